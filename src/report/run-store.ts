import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrialResult } from '../model/trial-result.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { htmlReport } from './html.ts';
import { junitXml } from './junit.ts';

/** A run's folder name from its start time: `2026-11-24T20-24-58-485Z`. */
export const runStamp = (startedAt: Date): string => startedAt.toISOString().replace(/[:.]/g, '-');

/**
 * The run store (Jepsen's `store/`): `store/<scenario>/<time>/<trial>/` holds everything
 * needed to understand and replay a trial; `store/<scenario>/latest` points at the newest run.
 */
export class RunStore {
  readonly dir: string;

  /** `run` names this run's folder: a run id (`--run-id`), or a time (`runStamp`). */
  constructor(root: string, scenario: string, run: string) {
    this.dir = join(root, scenario, run);
  }

  async init(scenarioSource: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, 'scenario.yaml'), scenarioSource);
    const latest = join(this.dir, '..', 'latest');
    await rm(latest, { force: true });
    await symlink(this.dir.split('/').at(-1)!, latest);
  }

  trialDir(trialId: string): string {
    return join(this.dir, trialId);
  }

  async writeTrial(result: TrialResult): Promise<string> {
    const dir = this.trialDir(result.plan.id);
    const jsonl = (rows: readonly unknown[]): string =>
      rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await writeFileAtomic(join(dir, 'trial.json'), JSON.stringify(result.plan, null, 2));
    await writeFileAtomic(join(dir, 'workload.jsonl'), jsonl(result.ops));
    await writeFileAtomic(join(dir, 'history.jsonl'), jsonl(result.history.events));
    await writeFileAtomic(join(dir, 'dump.json'), JSON.stringify(result.dump, null, 1));
    await writeFileAtomic(
      join(dir, 'verdict.json'),
      JSON.stringify(
        {
          ...result.verdict,
          expectation: result.expectation,
          recoverError: result.recoverError ?? null,
          fsck: result.fsck ?? null,
          phaseMs: result.phaseMs,
        },
        null,
        2,
      ),
    );
    if (result.exploration)
      await writeFileAtomic(
        join(dir, 'exploration.json'),
        JSON.stringify(result.exploration, null, 1),
      );
    for (const artifact of result.artifacts ?? [])
      await writeFileAtomic(join(dir, artifact.name), artifact.data);
    await writeFileAtomic(join(dir, 'harness.log'), result.log.join('\n') + '\n');
    await writeFileAtomic(join(dir, 'engine-stderr.log'), result.engineStderr);
    return dir;
  }

  /** The run's reports: results.json, junit.xml (CI) and a self-contained report.html. */
  async writeReports(
    scenario: string,
    results: readonly TrialResult[],
    errors: readonly { id: string; message: string }[],
  ): Promise<void> {
    const summary = results.map((r) => ({
      key: `${r.plan.scenario}/${r.plan.id}`,
      id: r.plan.id,
      // What the trial took (for balancing shards by measured durations: --shard-weights).
      seconds: Number((Object.values(r.phaseMs).reduce((a, b) => a + b, 0) / 1000).toFixed(1)),
      seed: r.plan.seed,
      asExpected: r.expectation.ok,
      reasons: r.expectation.reasons,
      stats: r.verdict.stats,
      anomalies: r.verdict.anomalies,
    }));
    await writeFileAtomic(
      join(this.dir, 'results.json'),
      JSON.stringify({ scenario, trials: summary, errors }, null, 2),
    );
    await writeFileAtomic(join(this.dir, 'junit.xml'), junitXml(scenario, results, errors));
    await writeFileAtomic(join(this.dir, 'report.html'), htmlReport(scenario, results));
  }
}
