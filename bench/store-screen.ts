import type { PlantedBug } from '../src/engine/engine.ts';
import { screenInMemory } from '../src/harness/trial/memory-screen.ts';
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
 * The host side of `screen: store` alone, on a recording made in this process
 * (src/harness/trial/memory-screen.ts): every chosen crash state screened and judged, as in a
 * trial after the log's download, timed without the recording. No kernel here: the [vm] bench
 * rows time the same code on real recordings.
 */
export async function benchStoreScreen(
  mode: 'fsync' | 'group-commit' | 'plain',
  ops: number,
  explore: string,
  bug?: PlantedBug,
): Promise<StoreScreenRow> {
  const pages = 16;
  const workload: WorkloadOp[] = Array.from({ length: ops }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: (i * 7) % pages,
    value: makeValue(i + 1, 16),
  }));
  const { states, distinct, judged, ms } = await screenInMemory({
    engine: {
      kind: 'builtin',
      mode,
      direct: false,
      pageSize: 4096,
      writers: 4,
      batchWindowUs: 0,
      batchMax: 8,
      ...(bug ? { bug } : {}),
    },
    pages,
    workload,
    explore,
    maxStates: 100_000,
  });
  const seconds = ms / 1000;
  return {
    engine: bug ? `${mode}!${bug}` : mode,
    explore,
    ops,
    states: states.length,
    distinctStates: distinct,
    failing: judged.filter((j) => !j.state.valid).length,
    seconds: Number(seconds.toFixed(2)),
    statesPerSecond: Math.round(states.length / seconds),
    distinctPerSecond: Math.round(distinct / seconds),
  };
}
