// A worker thread of explorePool: says it is ready once loaded, then explores the runs it is
// sent, one at a time.
import { parentPort } from 'node:worker_threads';
import { getEngineMode } from '../engine/registry.ts';
import type { ExploreJob, ExploreSummary } from './explore-pool.ts';
import { exploreSimRun } from './sim-explore.ts';

parentPort!.on('message', (job: ExploreJob) => {
  // A failure is thrown out of the thread: the pool rejects with it.
  void Promise.resolve()
    .then(() => exploreSimRun({ ...job, mode: getEngineMode(job.mode) }))
    .then((r) => {
      const summary: ExploreSummary = {
        seed: job.seed,
        states: r.states.length,
        duplicates: r.duplicates,
        cutPoints: r.cutPoints,
        failingStates: r.states.filter((s) => !s.verdict.valid).length,
        failing: r.states
          .filter((s) => !s.verdict.valid)
          .slice(0, 5)
          .map((s) => ({
            cutAtIo: s.cutAtIo,
            seed: s.seed,
            dumpPages: s.dump.length,
            anomalies: s.verdict.anomalies.map((a) => ({ kind: a.kind, message: a.message })),
          })),
      };
      parentPort!.postMessage(summary);
    });
});
parentPort!.postMessage('ready');
