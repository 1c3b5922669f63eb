import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenarios } from '../src/cli/run-command.ts';
import { parseScenario } from '../src/scenario/load.ts';

export type JobsBenchRow = {
  jobs: number;
  trials: number;
  bootSeconds: number;
  /** From the first trial's start to the last one's end (boot excluded). */
  trialSeconds: number;
  trialsPerMinute: number;
  /** trialsPerMinute over the one-guest run's, in this run. */
  speedup: number;
  /** Whether every trial got the same verdict as with one guest (same seed and plan). */
  sameVerdicts: boolean;
  harnessErrors: number;
  /** The host's 1-minute load average when this run started (the machine is shared). */
  hostLoad: number;
};

const scenarioText = (trials: number): string =>
  [
    'engine: { mode: fsync }',
    'workload: { ops: 40, pages: 16 }',
    'fault: { kind: drop_writes, arm: { afterOp: 20 } }',
    'matrix: { fs: [ext4, xfs], mode: [plain, fsync] }',
    `trials: ${trials}`,
    'expectByMode:',
    '  plain: { lost-ack: some }',
    '  fsync: { lost-ack: none }',
    '',
  ].join('\n');

/**
 * `powercut run --jobs N` on the embedded guest, N = 1 and each of `jobCounts`: the same
 * scenario and seed, so the same trials; trials per minute once the guests are up, side by
 * side with one guest in the same run.
 */
export async function benchJobs(
  trialsPerCell: number,
  jobCounts: readonly number[],
): Promise<JobsBenchRow[]> {
  const loaded = parseScenario('jobs-bench.yaml', scenarioText(trialsPerCell));
  const rows: JobsBenchRow[] = [];
  let reference: Map<string, boolean> | undefined;
  let referenceRate = 0;
  for (const jobs of [1, ...jobCounts.filter((j) => j > 1)]) {
    const storeRoot = mkdtempSync(join(tmpdir(), 'powercut-bench-jobs-'));
    const hostLoad = loadavg()[0]!;
    const started = Date.now();
    let ready = started;
    try {
      const outcome = await runScenarios([loaded], {
        target: 'qemu',
        seed: 11,
        storeRoot,
        jobs,
        log: (line) => {
          if (/ready in/.test(line)) ready = Date.now();
        },
      });
      const trialSeconds = (Date.now() - ready) / 1000;
      const verdicts = new Map(outcome.results.map((r) => [r.plan.id, r.expectation.ok]));
      reference ??= verdicts;
      const trials = outcome.results.length + outcome.harnessErrors;
      const rate = (outcome.results.length / trialSeconds) * 60;
      if (jobs === 1) referenceRate = rate;
      rows.push({
        jobs,
        trials,
        bootSeconds: Number(((ready - started) / 1000).toFixed(1)),
        trialSeconds: Number(trialSeconds.toFixed(1)),
        trialsPerMinute: Number(rate.toFixed(2)),
        speedup: Number((rate / referenceRate).toFixed(2)),
        sameVerdicts:
          verdicts.size === reference.size &&
          [...verdicts].every(([id, ok]) => reference!.get(id) === ok),
        harnessErrors: outcome.harnessErrors,
        hostLoad: Number(hostLoad.toFixed(2)),
      });
    } finally {
      rmSync(storeRoot, { recursive: true, force: true });
    }
  }
  return rows;
}
