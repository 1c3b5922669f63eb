import type { PlantedBug } from '../src/engine/engine.ts';
import { engineModes } from '../src/engine/registry.ts';
import { startMark } from '../src/logwrites/format.ts';
import { stateJudge } from '../src/harness/trial/state-judge.ts';
import { rawBytesNeeded } from '../src/harness/trial/recovered-state.ts';
import { recordBuiltin } from '../src/logwrites/memory-recording.ts';
import { exploreStates, parseExploreMode } from '../src/logwrites/states.ts';
import { screenStoreStates } from '../src/logwrites/store-screen.ts';
import type { WorkloadOp } from '../src/model/workload.ts';
import { makeValue } from '../src/oracles/arbitraries.ts';

export type StoreScreenRow = {
  engine: string;
  explore: string;
  ops: number;
  states: number;
  distinctStates: number;
  failing: number;
  seconds: number;
  statesPerSecond: number;
  distinctPerSecond: number;
};

/**
 * The host side of `screen: store` alone, on a recording made in this process: a built-in
 * engine runs on a store whose writes, flushes and ack marks are logged as dm-log-writes would
 * log a buffered file (entries, data), then every chosen crash state is screened (the store read out of the
 * recording, recovered and dumped in-process) and judged against the history, as in a trial
 * after the log's download. No kernel here: the [vm] bench rows time the same code on real
 * recordings.
 */
export async function benchStoreScreen(
  modeName: 'fsync' | 'group-commit' | 'plain',
  ops: number,
  explore: string,
  bug?: PlantedBug,
): Promise<StoreScreenRow> {
  const mode = engineModes[modeName];
  const pages = 16;
  const options = {
    pageSize: 4096,
    pages,
    writers: 4,
    batchWindowUs: 0,
    batchMaxOps: 8,
    ...(bug ? { bug } : {}),
  };
  const workload: WorkloadOp[] = Array.from({ length: ops }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: (i * 7) % pages,
    value: makeValue(i + 1, 16),
  }));
  const { entries, readLog, history, storeBytes } = await recordBuiltin(mode, options, workload);

  const start = performance.now();
  const from = entries.findIndex((e) => e.mark === startMark) + 1;
  const { states } = exploreStates(entries, parseExploreMode(explore)!, {
    maxStates: 100_000,
    seed: 1,
    from,
  });
  const judge = stateJudge({
    entries,
    states,
    ops: workload,
    history,
    transactional: mode.transactional,
    engine: {
      kind: 'builtin',
      mode: modeName,
      direct: false,
      pageSize: 4096,
      writers: options.writers,
      batchWindowUs: options.batchWindowUs,
      batchMax: options.batchMaxOps,
      ...(bug ? { bug } : {}),
    },
    pages,
  });
  const screened = await screenStoreStates(
    {
      readLog,
      entries,
      sectorSize: 512,
      extents: [{ fileSector: 0, start: 0, sectors: storeBytes / 512 }],
      storeBytes,
      engine: { mode: modeName, options },
      rawBytes: rawBytesNeeded(4096, pages),
    },
    states,
  );
  const failing = screened.reports.filter((r) => !judge(r, 'host').state.valid).length;
  const seconds = (performance.now() - start) / 1000;
  return {
    engine: bug ? `${modeName}!${bug}` : modeName,
    explore,
    ops,
    states: states.length,
    distinctStates: screened.distinct,
    failing,
    seconds: Number(seconds.toFixed(2)),
    statesPerSecond: Math.round(states.length / seconds),
    distinctPerSecond: Math.round(screened.distinct / seconds),
  };
}
