import type { BuiltinEngineSpec } from '../../model/trial-plan.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import { engineModes } from '../../engine/registry.ts';
import { startMark } from '../../logwrites/format.ts';
import { recordBuiltin } from '../../logwrites/memory-recording.ts';
import { exploreStates, parseExploreMode, type CrashState } from '../../logwrites/states.ts';
import { screenStoreStates } from '../../logwrites/store-screen.ts';
import { builtinOptions } from './engine-command.ts';
import { rawBytesNeeded } from './recovered-state.ts';
import { misdirectExcuse } from './misdirect-excuse.ts';
import { stateJudge, type JudgedState } from './state-judge.ts';

/**
 * `screen: store` without a kernel: records a built-in direct-layout engine over `workload` in
 * memory (memory-recording.ts), then does what a trial does after the log's download: chooses
 * the `explore` states, reads each one's store out of the recording, recovers and dumps it
 * in-process, and judges it against the history as of that state. `ms` times that last part
 * alone. For the host test and the bench of the screen; trials record real devices.
 */
export async function screenInMemory(o: {
  engine: BuiltinEngineSpec;
  pages: number;
  workload: readonly WorkloadOp[];
  explore: string;
  maxStates: number;
}): Promise<{ states: CrashState[]; distinct: number; judged: JudgedState[]; ms: number }> {
  const { engine, pages } = o;
  const mode = engineModes[engine.mode];
  const options = builtinOptions(engine, pages);
  const { entries, readLog, history, storeBytes } = await recordBuiltin(mode, options, o.workload);
  const started = performance.now();
  // The recording is of the store alone: its file offsets are the device's.
  const extents = [{ fileSector: 0, start: 0, sectors: storeBytes / 512 }];
  const misdirect = {
    extents,
    fileBytes: storeBytes,
    alignBytes: engine.pageSize,
    sectorSize: 512,
  };
  const { states } = exploreStates(entries, parseExploreMode(o.explore)!, {
    maxStates: o.maxStates,
    seed: 1,
    from: entries.findIndex((e) => e.mark === startMark) + 1,
    misdirect,
  });
  const judge = stateJudge({
    entries,
    states,
    ops: [...o.workload],
    history,
    transactional: mode.transactional,
    engine,
    pages,
    excusedIn: misdirectExcuse({ entries, ...misdirect, pageSize: engine.pageSize }),
  });
  const { reports, distinct } = await screenStoreStates(
    {
      readLog,
      entries,
      sectorSize: 512,
      extents,
      storeBytes,
      engine: { mode: engine.mode, options },
      rawBytes: rawBytesNeeded(engine.pageSize, pages),
    },
    states,
  );
  const judged = reports.map((r) => judge(r, 'host'));
  return { states, distinct, judged, ms: performance.now() - started };
}
