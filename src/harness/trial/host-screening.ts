import { gunzipSync } from 'node:zlib';
import { parseLog } from '../../logwrites/format.ts';
import { screenStates } from '../../logwrites/host-screen.ts';
import { mulberry32 } from '../../sim/prng.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { downloadLog, type ScreenInput, type ScreenOutcome } from './crash-states.ts';
import { builtinOptions, storeSize } from './engine-command.ts';
import type { TrialRig } from './trial-rig.ts';
import type { StateReport } from '../../logwrites/explorer-protocol.ts';
import { screenStoreStates } from '../../logwrites/store-screen.ts';
import { rawBytesNeeded } from './recovered-state.ts';
import { engineTraits } from '../../engine/engine.ts';

/** Of the states the host passed, at least this many (and this share) are confirmed too. */
const minConfirmed = 3;
const confirmedShare = 0.1;

/**
 * `screen: host`: brings the recording to the host once, checks every chosen state there
 * (src/logwrites/host-screen.ts), and picks what a real kernel must confirm: every state the
 * host failed, and a sample of the ones it passed, seeded by the trial's seed.
 */
export function hostScreen(
  target: Target,
  plan: TrialPlan,
  o: { log: string; storeName: string; storeExtents: TrialRig['requireStoreExtents'] },
): (input: ScreenInput) => Promise<ScreenOutcome> {
  const engine = plan.engine;
  const how = plan.fault.screen;
  if (engine.kind !== 'builtin' || (how === 'host' && plan.filesystem.type !== 'ext4'))
    throw new HarnessError('fault.screen: host needs a built-in engine on ext4');
  if (how === 'store' && !engineTraits[engine.mode].directLayout)
    throw new HarnessError('fault.screen: store needs a direct-layout built-in engine');
  return async ({ entries, logBytes, states, judge }) => {
    const started = Date.now();
    const logGz = await downloadLog(target, o.log, logBytes);
    const log = gunzipSync(logGz);
    const downloadMs = Date.now() - started;
    const readLog = (offset: number, length: number): Uint8Array =>
      log.subarray(offset, offset + length);
    const index = parseLog(readLog, log.length);
    if (index.entries.length !== entries.length)
      throw new HarnessError(
        `the downloaded log has ${index.entries.length} entries, the target's ${entries.length}`,
      );
    const pages = plan.workload.pages;
    const options = builtinOptions(engine, pages);
    const rawBytes = engineTraits[engine.mode].directLayout
      ? { rawBytes: rawBytesNeeded(engine.pageSize, pages) }
      : {};
    let distinct: number | undefined;
    let reports: StateReport[];
    if (how === 'store') {
      const screened = await screenStoreStates(
        {
          readLog,
          entries: index.entries,
          sectorSize: index.sectorSize,
          extents: await o.storeExtents(),
          storeBytes: storeSize(engine, pages),
          engine: { mode: engine.mode, options },
          ...rawBytes,
        },
        states,
      );
      reports = screened.reports;
      distinct = screened.distinct;
    } else {
      reports = await screenStates(
        {
          readLog,
          entries: index.entries,
          sectorSize: index.sectorSize,
          deviceBytes: plan.device.sizeMb * 1024 * 1024,
          storeName: o.storeName,
          engine: { mode: engine.mode, direct: false, options },
          ...rawBytes,
          ...(plan.fault.fsck ? { fsck: true } : {}),
        },
        states,
      );
    }
    const judged = reports.map((report) => judge(report, 'host'));
    const passed = judged.filter((j) => j.state.valid).map((j) => j.state.id);
    const passedSet = new Set(passed);
    const sample = new Set(
      seededSample(
        passed,
        Math.max(minConfirmed, Math.ceil(confirmedShare * passed.length)),
        plan.seed,
      ),
    );
    const confirm = states.filter((s) => !passedSet.has(s.id) || sample.has(s.id));
    return {
      judged,
      confirm,
      ms: Date.now() - started,
      downloadMs,
      logGz,
      ...(distinct !== undefined ? { distinct } : {}),
    };
  };
}

/** `n` of `items` (all of them if fewer), the same ones for the same seed. */
export function seededSample<T>(items: readonly T[], n: number, seed: number): T[] {
  const pool = [...items];
  const random = mulberry32(seed);
  for (let i = 0; i < Math.min(n, pool.length); i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, Math.min(n, pool.length));
}
