import fc from 'fast-check';
import { engineModes } from '../src/engine/registry.ts';
import { workloadArb } from '../src/oracles/arbitraries.ts';
import { exploreSimRun } from '../src/sim/sim-explore.ts';
import { runSimTrial } from '../src/sim/sim-trial.ts';

export type SimBenchRow = {
  engine: string;
  path: 'trial per cut' | 'explore: one run, every cut';
  runs: number;
  states: number;
  duplicates: number;
  distinctShare: number;
  statesPerSec: number;
};

/**
 * Simulated tier, per engine, side by side on the same generated workloads (8 pages, up to 20
 * ops, torn sectors): distinct crash states (image and history) recovered, dumped and checked
 * per second; the draws that repeated a state already checked are counted apart.
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
      const start = process.hrtime.bigint();
      let runs = 0;
      let states = 0;
      let duplicates = 0;
      for (let seed = 0; Number(process.hrtime.bigint() - start) / 1e9 < seconds; seed++) {
        const r =
          path === 'trial per cut'
            ? await runSimTrial({
                mode,
                options,
                ops: ops(seed),
                cutAtIo: seed % 40,
                crashStates: 25,
                seed,
                tear: true,
              })
            : await exploreSimRun({
                mode,
                options,
                ops: ops(seed),
                statesPerCut: 8,
                seed,
                tear: true,
              });
        runs++;
        states += r.states.length;
        duplicates += r.duplicates;
      }
      const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      rows.push({
        engine: name,
        path,
        runs,
        states,
        duplicates,
        distinctShare: Number((states / Math.max(1, states + duplicates)).toFixed(2)),
        statesPerSec: Math.round(states / elapsed),
      });
    }
  }
  return rows;
}
