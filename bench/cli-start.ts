import { execa } from 'execa';

export type CliStartRow = { command: string; runs: number; medianMs: number; minMs: number };

/**
 * How fast the compiled CLI (bin/powercut.mjs → dist/bin, made by `npm run build`) starts:
 * `--help` and `validate` of a shipped scenario, each run `runs` times, wall clock.
 */
export async function benchCliStart(runs = 9): Promise<CliStartRow[]> {
  const rows: CliStartRow[] = [];
  for (const args of [['--help'], ['validate', 'scenarios/fsync-vs-plain.yaml']]) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await execa('node', ['bin/powercut.mjs', ...args]);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    ms.sort((a, b) => a - b);
    rows.push({
      command: `powercut ${args.join(' ')}`,
      runs,
      medianMs: Math.round(ms[Math.floor(runs / 2)]!),
      minMs: Math.round(ms[0]!),
    });
  }
  return rows;
}
