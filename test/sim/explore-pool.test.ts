import test from 'ava';
import fc from 'fast-check';
import type { EngineModeName, EngineOptions } from '../../src/engine/engine.ts';
import { engineModes } from '../../src/engine/registry.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { type ExploreJob, type ExploreSummary, explorePool } from '../../src/sim/explore-pool.ts';
import { exploreSimRun } from '../../src/sim/sim-explore.ts';

const options = (bug?: 'ack-before-sync'): EngineOptions => ({
  pageSize: 4096,
  pages: 6,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 8,
  ...(bug ? { bug } : {}),
});

const jobs = (mode: EngineModeName, o: EngineOptions, n: number): ExploreJob[] =>
  Array.from({ length: n }, (_, seed) => ({
    mode,
    options: o,
    ops: fc.sample(workloadArb({ pages: 6, maxOps: 12, transactional: false }), {
      seed,
      numRuns: 1,
    })[0]!,
    statesPerCut: 6,
    seed,
    tear: true,
  }));

test('runs explored on worker threads count what the same runs explored in this thread count', async (t) => {
  const todo = jobs('fsync', options('ack-before-sync'), 8);
  const results: ExploreSummary[] = [];
  const queue = [...todo];
  await explorePool({ workers: 2, next: () => queue.shift(), onResult: (r) => results.push(r) });
  t.is(results.length, todo.length);
  for (const job of todo) {
    const here = await exploreSimRun({ ...job, mode: engineModes.fsync });
    const there = results.find((r) => r.seed === job.seed)!;
    t.is(there.states, here.states.length);
    t.is(there.duplicates, here.duplicates);
    t.is(there.failingStates, here.states.filter((s) => !s.verdict.valid).length);
  }
  // The planted bug is caught on the workers too, with its anomaly.
  const failing = results.flatMap((r) => r.failing);
  t.true(failing.some((f) => f.anomalies.some((a) => a.kind === 'lost-ack')));
});

test('a worker that fails rejects the pool, naming why', async (t) => {
  const queue: ExploreJob[] = [
    { ...jobs('fsync', options(), 1)[0]!, mode: 'nosuch' as EngineModeName },
  ];
  await t.throwsAsync(
    explorePool({ workers: 1, next: () => queue.shift(), onResult: () => undefined }),
    { message: /unknown engine mode "nosuch"/ },
  );
});
