import { Worker } from 'node:worker_threads';
import type { EngineModeName } from '../engine/engine.ts';
import type { SimExploreInput } from './sim-explore.ts';

/** One run to explore, as a worker receives it: the engine by name (modes do not cross threads). */
export type ExploreJob = Omit<SimExploreInput, 'mode'> & { mode: EngineModeName };

/** What a worker sends back of a run: counts, and the first few failing states. */
export type ExploreSummary = {
  seed: number;
  states: number;
  duplicates: number;
  cutPoints: number;
  /** States whose verdict failed. */
  failingStates: number;
  /** The first of them (at most 5), with their anomalies. */
  failing: {
    cutAtIo: number;
    seed: number;
    dumpPages: number;
    anomalies: { kind: string; message: string }[];
  }[];
};

/**
 * Explores runs on worker threads, one run at a time per worker, as many workers as asked
 * (the cores: every run is independent). Once every worker has loaded (`onReady`: start-up is
 * not exploration), jobs come from `next` until it returns undefined; `onResult` sees each
 * run's summary as it arrives. A worker's error rejects the whole pool.
 * @example await explorePool({ workers: 2, next: () => jobs.shift(), onResult: (s) => total += s.states });
 */
export async function explorePool(opts: {
  workers: number;
  next: () => ExploreJob | undefined;
  onResult: (summary: ExploreSummary) => void;
  onReady?: () => void;
}): Promise<void> {
  const workers = Array.from({ length: opts.workers }, startWorker);
  try {
    const failed = new Promise<never>((_, reject) => {
      for (const worker of workers) {
        // An error crosses the thread as a copy of its fields: it is rethrown as one of ours.
        worker.on('error', (error: unknown) =>
          reject(new Error(`explore worker: ${(error as Error).message ?? String(error)}`)),
        );
        worker.on('exit', (code) => {
          if (code !== 0) reject(new Error(`explore worker exited with code ${code}`));
        });
      }
    });
    await Promise.race([
      failed,
      Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve)))),
    ]);
    opts.onReady?.();
    const fed = workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          const feed = (): void => {
            const job = opts.next();
            if (job) worker.postMessage(job);
            else resolve();
          };
          worker.on('message', (summary: ExploreSummary) => {
            opts.onResult(summary);
            feed();
          });
          feed();
        }),
    );
    await Promise.race([failed, Promise.all(fed)]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * The compiled worker under dist; under tsx (tests, bench) its source, with tsx's loader
 * registered in the thread first (a worker does not inherit the parent's `--import` hooks).
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./explore-worker.js', import.meta.url));
  const source = new URL('./explore-worker.ts', import.meta.url).href;
  return new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(source)}); });`,
    { eval: true },
  );
}
