import fc from 'fast-check';
import { engineModes } from '../src/engine/registry.ts';
import { workloadArb } from '../src/oracles/arbitraries.ts';
import { runSimTrial } from '../src/sim/sim-trial.ts';

/**
 * Simulated tier, per engine: distinct crash states (by image) recovered, dumped and checked
 * per second; the draws that repeated an image already checked are counted apart.
 */
export async function benchSim(seconds = 2): Promise<
  {
    engine: string;
    states: number;
    duplicates: number;
    distinctShare: number;
    statesPerSec: number;
  }[]
> {
  const rows = [];
  for (const [name, mode] of Object.entries(engineModes)) {
    const options = { pageSize: 4096, pages: 8, writers: 4, batchWindowUs: 200, batchMaxOps: 8 };
    const start = process.hrtime.bigint();
    let states = 0;
    let duplicates = 0;
    for (let seed = 0; Number(process.hrtime.bigint() - start) / 1e9 < seconds; seed++) {
      const [ops] = fc.sample(
        workloadArb({ pages: 8, maxOps: 20, transactional: mode.transactional }),
        { seed, numRuns: 1 },
      );
      const r = await runSimTrial({
        mode,
        options,
        ops: ops!,
        cutAtIo: seed % 40,
        crashStates: 25,
        seed,
        tear: true,
      });
      states += r.states.length;
      duplicates += r.duplicates;
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    rows.push({
      engine: name,
      states,
      duplicates,
      distinctShare: Number((states / Math.max(1, states + duplicates)).toFixed(2)),
      statesPerSec: Math.round(states / elapsed),
    });
  }
  return rows;
}
