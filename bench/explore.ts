import { runTrial } from '../src/harness/trial/run-trial.ts';
import type { Target } from '../src/harness/target/target.ts';
import { sweepStale } from '../src/harness/device/sweep.ts';
import { parseScenario } from '../src/scenario/load.ts';
import { expandScenario } from '../src/scenario/expand.ts';

export type ExploreRow = {
  path: string;
  states: number;
  /** States a real kernel checked (mount, recover, dump, fsck in the guest). */
  kernelChecked: number;
  seconds: number;
  statesPerSecond: number;
  /** The host's screen alone (log download included; the download apart), screened path. */
  hostSeconds?: number;
  downloadSeconds?: number;
  hostStatesPerSecond?: number;
};

/**
 * One log-writes recording's crash states (ext4 cow, reorder:1), checked two ways in one run:
 * every state on the real kernel in the guest, and `screen: host` (every state on the host,
 * failing ones and a sample confirmed by the kernel). The same seed: the same states.
 */
export async function benchExploration(target: Target): Promise<ExploreRow[]> {
  const rows: ExploreRow[] = [];
  for (const screen of [false, true]) {
    await sweepStale(target);
    const plan = expandScenario(
      parseScenario(
        'bench-explore.yaml',
        `device: { sizeMb: 64 }\nengine: { mode: cow }\nworkload: { ops: 16, pages: 8, txnSize: 4 }\nfault: { kind: log-writes, explore: 'reorder:1'${screen ? ', screen: host' : ''} }\n`,
      ),
      { baseSeed: 1 },
    )[0]!;
    const e = (await runTrial(target, plan, {})).exploration!;
    rows.push({
      path: screen ? 'screen: host, kernel confirms' : 'kernel (guest explorer)',
      states: e.checked,
      kernelChecked: e.screen ? e.screen.confirmed : e.checked,
      seconds: Number((e.exploreMs / 1000).toFixed(1)),
      statesPerSecond: Number(e.statesPerSecond.toFixed(2)),
      ...(e.screen
        ? {
            hostSeconds: Number((e.screen.ms / 1000).toFixed(1)),
            downloadSeconds: Number((e.screen.downloadMs / 1000).toFixed(1)),
            hostStatesPerSecond: Number((e.screen.screened / (e.screen.ms / 1000)).toFixed(1)),
          }
        : {}),
    });
  }
  return rows;
}
