import { runTrial } from '../src/harness/trial/run-trial.ts';
import type { Target } from '../src/harness/target/target.ts';
import { sweepStale } from '../src/harness/device/sweep.ts';
import { parseScenario } from '../src/scenario/load.ts';
import { expandScenario } from '../src/scenario/expand.ts';

export type ExploreRow = {
  engine: string;
  path: string;
  states: number;
  /** States a real kernel checked (mount, recover, dump, fsck in the guest). */
  kernelChecked: number;
  seconds: number;
  statesPerSecond: number;
  /** The host's screen alone (log download included; the download apart), screened paths. */
  hostSeconds?: number;
  downloadSeconds?: number;
  hostStatesPerSecond?: number;
  /** The screen without the download: states (and distinct store images) per second. */
  screenOnlyStatesPerSecond?: number;
  distinctStates?: number;
  distinctPerSecond?: number;
  /** Of the states the kernel confirmed, how many it judged as the host had ("a/b"). */
  kernelAgreed?: string;
};

type Path = 'kernel' | 'kernel-fsck' | 'host' | 'store';
const label: Record<Path, string> = {
  kernel: 'kernel (guest explorer)',
  'kernel-fsck': 'kernel (guest explorer), fsck: true',
  host: 'screen: host, kernel confirms',
  store: 'screen: store, kernel confirms',
};

const screenField: Record<Path, string> = {
  kernel: '',
  'kernel-fsck': ', fsck: true',
  host: ', screen: host',
  store: ', screen: store',
};

/**
 * log-writes recordings' crash states checked each way in one run, same seed (same states):
 * every state on the real kernel in the guest (without and with its fsck); `screen: host` (every state's image on the host,
 * e2fsck and debugfs); for a direct-layout engine also `screen: store` (the store file read out
 * of the recording, in-process). Failing states and a sample are confirmed by the kernel.
 */
export async function benchExploration(target: Target): Promise<ExploreRow[]> {
  const rows: ExploreRow[] = [];
  const runs: [string, string, Path[], string][] = [
    ['cow', 'ops: 16, pages: 8, txnSize: 4', ['kernel', 'kernel-fsck', 'host'], 'reorder:1'],
    ['fsync', 'ops: 16, pages: 8', ['kernel', 'kernel-fsck', 'host', 'store'], 'reorder:1'],
    // A recording with ~170 states, to time the host screen on more than its start.
    ['fsync', 'ops: 80, pages: 16', ['host'], 'reorder:1'],
    // A recording with hundreds of states, to time the store screen on more than a blink.
    ['fsync', 'ops: 60, pages: 16', ['store'], 'reorder:2'],
    // Hundreds of distinct store images (each 4 KiB write torn at 3 places): distinct states/s.
    ['fsync', 'ops: 240, pages: 16', ['store'], 'tear:3'],
    // Each page write put at 4 other places of the store: the misdirect states' rate.
    ['fsync', 'ops: 120, pages: 16', ['store'], 'misdirect:4'],
  ];
  for (const [engine, workload, paths, explore] of runs) {
    for (const path of paths) {
      await sweepStale(target);
      const plan = expandScenario(
        parseScenario(
          'bench-explore.yaml',
          `device: { sizeMb: 64 }\nengine: { mode: ${engine} }\nworkload: { ${workload} }\nfault: { kind: log-writes, explore: '${explore}', maxStates: 5000${screenField[path]} }\n`,
        ),
        { baseSeed: 1 },
      )[0]!;
      const e = (await runTrial(target, plan, {})).exploration!;
      const screenOnlyS = e.screen ? (e.screen.ms - e.screen.downloadMs) / 1000 : 0;
      rows.push({
        engine: `${engine} ${explore}`,
        path: label[path],
        states: e.checked,
        kernelChecked: e.screen ? e.screen.confirmed : e.checked,
        seconds: Number((e.exploreMs / 1000).toFixed(1)),
        statesPerSecond: Number(e.statesPerSecond.toFixed(2)),
        ...(e.screen
          ? {
              hostSeconds: Number((e.screen.ms / 1000).toFixed(2)),
              downloadSeconds: Number((e.screen.downloadMs / 1000).toFixed(2)),
              hostStatesPerSecond: Number((e.screen.screened / (e.screen.ms / 1000)).toFixed(1)),
              screenOnlyStatesPerSecond: Number(
                (e.screen.screened / Math.max(screenOnlyS, 0.001)).toFixed(0),
              ),
              ...(e.screen.distinct !== undefined
                ? {
                    distinctStates: e.screen.distinct,
                    distinctPerSecond: Math.round(e.screen.distinct / Math.max(screenOnlyS, 0.001)),
                  }
                : {}),
              kernelAgreed: `${e.screen.confirmed - e.screen.disagreements.length}/${e.screen.confirmed}`,
            }
          : {}),
      });
    }
  }
  return rows;
}
