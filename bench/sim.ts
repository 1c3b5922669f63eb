import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import fc from 'fast-check';
import type { EngineModeName } from '../src/engine/engine.ts';
import { engineModes } from '../src/engine/registry.ts';
import { explorePool } from '../src/sim/explore-pool.ts';
import type { History } from '../src/model/history.ts';
import { workloadArb } from '../src/oracles/arbitraries.ts';
import { exploreSimRun } from '../src/sim/sim-explore.ts';
import { runSimTrial } from '../src/sim/sim-trial.ts';

/**
 * Crash states across runs, by content: runs of different workloads share states where their
 * prefixes agree (the same first ops give the same cuts), which no run can see alone. A state
 * is its history as far as it went (events, and the ops they name) and its image.
 */
class GlobalStates {
  private readonly seen = new Set<string>();

  get size(): number {
    return this.seen.size;
  }

  add(history: History, image: Uint8Array): void {
    const named = new Set(history.events.flatMap((e) => ('id' in e ? [e.id] : [])));
    // A digest, not the image: the bytes of every state of a row would fill the heap, and the
    // collector's work would land in the timed runs.
    this.seen.add(
      createHash('sha256')
        .update(JSON.stringify([history.events, history.ops.filter((op) => named.has(op.id))]))
        .update(image)
        .digest('base64'),
    );
  }
}

export type SimBenchRow = {
  engine: string;
  path: 'trial per cut' | 'explore: one run, every cut' | string;
  runs: number;
  states: number;
  duplicates: number;
  distinctShare: number;
  statesPerSec: number;
  /** Distinct across all the runs of the row (see GlobalStates), and per second. */
  acrossRuns: number | null;
  acrossRunsPerSec: number | null;
};

/**
 * Simulated tier, per engine, side by side on the same generated workloads (8 pages, up to 20
 * ops, torn sectors): distinct crash states (image and history) recovered, dumped and checked
 * per second; the draws that repeated a state already checked are counted apart, and a workload
 * (with its cut, per cut) generated twice is run once.
 * - trial per cut: `runSimTrial`, the engine run once per cut point (a cut drawn per run), up
 *   to 25 distinct images from that cut;
 * - explore: `exploreSimRun`, the engine run once, uncut, and up to 8 distinct states checked
 *   at every cut point of it (direct-layout engines recovered in memory, slot by slot).
 */
export async function benchSim(seconds = 2): Promise<SimBenchRow[]> {
  const rows: SimBenchRow[] = [];
  for (const [name, mode] of Object.entries(engineModes)) {
    const options = { pageSize: 4096, pages: 8, writers: 4, batchWindowUs: 200, batchMaxOps: 8 };
    const ops = (seed: number) =>
      fc.sample(workloadArb({ pages: 8, maxOps: 20, transactional: mode.transactional }), {
        seed,
        numRuns: 1,
      })[0]!;
    for (const path of ['trial per cut', 'explore: one run, every cut'] as const) {
      let timed = 0n; // the runs alone: the global count below is made between them, untimed
      const everywhere = new GlobalStates();
      let runs = 0;
      let states = 0;
      let duplicates = 0;
      // Two seeds can generate one workload (short ones repeat): its crash states were counted
      // the first time, so a run that would repeat them is not made.
      const done = new Set<string>();
      for (let seed = 0; Number(timed) / 1e9 < seconds; seed++) {
        const workload = ops(seed);
        const id = JSON.stringify(path === 'trial per cut' ? [workload, seed % 40] : workload);
        if (done.has(id)) continue;
        done.add(id);
        const began = process.hrtime.bigint();
        const r =
          path === 'trial per cut'
            ? await runSimTrial({
                mode,
                options,
                ops: workload,
                cutAtIo: seed % 40,
                crashStates: 25,
                seed,
                tear: true,
              })
            : await exploreSimRun({
                mode,
                options,
                ops: workload,
                statesPerCut: 8,
                seed,
                tear: true,
              });
        timed += process.hrtime.bigint() - began;
        runs++;
        states += r.states.length;
        duplicates += r.duplicates;
        for (const st of r.states) everywhere.add(st.history, st.image());
      }
      const elapsed = Number(timed) / 1e9;
      rows.push({
        engine: name,
        path,
        runs,
        states,
        duplicates,
        distinctShare: Number((states / Math.max(1, states + duplicates)).toFixed(2)),
        statesPerSec: Math.round(states / elapsed),
        acrossRuns: everywhere.size,
        acrossRunsPerSec: Math.round(everywhere.size / elapsed),
      });
    }
    // The same exploration on worker threads, one per core; wall clock. Fresh threads start
    // cold (their compiler has not warmed up): runs handed out in a first second are not
    // counted, and the clock starts after it. States are counted distinct within each run
    // (across runs they are not compared: the row above shows how many a row's runs share).
    const workers = availableParallelism();
    const done = new Set<string>();
    const counted = new Set<number>();
    let seed = 0;
    let states = 0;
    let duplicates = 0;
    let runs = 0;
    const warmUp = Math.min(1, seconds / 2);
    let began = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - began) / 1e9;
    let warm = false;
    await explorePool({
      workers,
      onReady: () => (began = process.hrtime.bigint()),
      next: () => {
        if (!warm && elapsed() >= warmUp) {
          warm = true;
          began = process.hrtime.bigint();
        }
        if (warm && elapsed() >= seconds) return undefined;
        for (;;) {
          const s = seed++;
          const workload = ops(s);
          const id = JSON.stringify(workload);
          if (done.has(id)) continue;
          done.add(id);
          if (warm) counted.add(s);
          return {
            mode: name as EngineModeName,
            options,
            ops: workload,
            statesPerCut: 8,
            seed: s,
            tear: true,
          };
        }
      },
      onResult: (r) => {
        if (!counted.has(r.seed)) return;
        runs++;
        states += r.states;
        duplicates += r.duplicates;
      },
    });
    const wall = elapsed();
    rows.push({
      engine: name,
      path: `explore: ${workers} worker threads`,
      runs,
      states,
      duplicates,
      distinctShare: Number((states / Math.max(1, states + duplicates)).toFixed(2)),
      statesPerSec: Math.round(states / wall),
      acrossRuns: null,
      acrossRunsPerSec: null,
    });
  }
  return rows;
}
