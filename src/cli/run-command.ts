import { randomBytes } from 'node:crypto';
import { HarnessError } from '../harness/errors.ts';
import { runTrial } from '../harness/trial/run-trial.ts';
import type { TrialPhase, TrialResult } from '../model/trial-result.ts';
import { withProgress } from './progress.ts';
import { installGuestEngine } from '../harness/trial/guest-engine.ts';
import { startTarget, type TargetKind } from '../harness/target/select.ts';
import type { Target } from '../harness/target/target.ts';
import { describeSweep, sweepStale } from '../harness/device/sweep.ts';
import { RunStore } from '../report/run-store.ts';
import { expandScenario } from '../scenario/expand.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { TrialPlan } from '../scenario/trial-plan.ts';
import { formatTrialLine, formatSummary } from './format.ts';

export type RunOptions = {
  target?: TargetKind;
  seed?: number;
  storeRoot: string;
  /** Only trials whose `<scenario>/<trial id>` contains one of these texts (all if empty). */
  only?: readonly string[];
  /** Not trials whose `<scenario>/<trial id>` contains one of these texts. */
  skip?: readonly string[];
  /** Live progress (listr2) instead of plain lines: for a terminal. */
  progress?: boolean;
  log: (line: string) => void;
};

export type RunOutcome = { results: TrialResult[]; harnessErrors: number; unexpected: number };

/** Runs every trial of the given scenarios on one target (booted once, reused). */
export async function runScenarios(
  scenarios: LoadedScenario[],
  options: RunOptions,
): Promise<RunOutcome> {
  const baseSeed = options.seed ?? randomBytes(4).readUInt32BE() % 1_000_000;
  options.log(`seed ${baseSeed} (rerun with --seed ${baseSeed})`);
  const planned = scenarios.map((s) => ({
    loaded: s,
    plans: expandScenario(s, { baseSeed }).filter((p) => selected(`${s.name}/${p.id}`, options)),
  }));
  const kind = options.target ?? pickTargetKind(planned.flatMap((p) => p.plans));
  const bootStart = Date.now();
  const target = await startTarget(kind, { log: options.log });
  options.log(
    `target: ${target.description} (ready in ${((Date.now() - bootStart) / 1000).toFixed(1)} s)`,
  );
  const outcome: RunOutcome = { results: [], harnessErrors: 0, unexpected: 0 };
  try {
    await installGuestEngine(target);
    for (const { loaded, plans } of planned) {
      if (plans.length === 0) continue; // --only/--skip selected none of its trials
      const store = new RunStore(options.storeRoot, loaded.name, new Date());
      await store.init(loaded.source);
      options.log(`${loaded.file}: ${plans.length} trial(s) → ${store.dir}`);
      const results: TrialResult[] = [];
      const errors: { id: string; message: string }[] = [];
      const record = (plan: TrialPlan, result: TrialResult | { error: string }): void => {
        if ('error' in result) errors.push({ id: plan.id, message: result.error });
        else results.push(result);
      };
      if (options.progress) {
        await withProgress(
          plans,
          (plan, log, onPhase) =>
            runOne(target, store, plan, outcome, { ...options, log }, onPhase),
          record,
        );
      } else {
        for (const plan of plans) record(plan, await runOne(target, store, plan, outcome, options));
      }
      await store.writeReports(loaded.name, results, errors);
      options.log(`  report: ${store.dir}/report.html (JUnit: junit.xml)`);
    }
  } finally {
    await target.teardown();
  }
  options.log(formatSummary(outcome.results, outcome.harnessErrors));
  return outcome;
}

async function runOne(
  target: Target,
  store: RunStore,
  plan: TrialPlan,
  outcome: RunOutcome,
  options: RunOptions,
  onPhase?: (phase: TrialPhase) => void,
): Promise<TrialResult | { error: string }> {
  const started = Date.now();
  try {
    for (const line of describeSweep(await sweepStale(target))) options.log(`  ${line}`);
    const result = await runTrial(target, plan, { ...(onPhase ? { onPhase } : {}) });
    const dir = await store.writeTrial(result);
    options.log(formatTrialLine(result, Date.now() - started));
    if (!result.expectation.ok) options.log(`       details: ${dir}/verdict.json`);
    if (result.cleanupFailures) {
      // The verdict stands, but something of ours was left behind or the target was lost.
      outcome.harnessErrors++;
      const message = `cleanup failed: ${result.cleanupFailures.join('; ')}`;
      options.log(`ERROR ${plan.id} seed=${plan.seed}: ${message} (details: ${dir}/harness.log)`);
      return { error: message };
    }
    outcome.results.push(result);
    if (!result.expectation.ok) outcome.unexpected++;
    return result;
  } catch (error) {
    outcome.harnessErrors++;
    const message =
      error instanceof HarnessError ? error.message : String((error as Error)?.stack ?? error);
    options.log(`ERROR ${plan.id} seed=${plan.seed}: ${message}`);
    return { error: message.split('\n')[0] ?? message };
  }
}

/** Whether a trial (`<scenario>/<trial id>`) is selected by --only and --skip. */
export function selected(
  name: string,
  o: { only?: readonly string[]; skip?: readonly string[] },
): boolean {
  const only = o.only ?? [];
  if (only.length > 0 && !only.some((text) => name.includes(text))) return false;
  return !(o.skip ?? []).some((text) => name.includes(text));
}

function pickTargetKind(plans: TrialPlan[]): TargetKind {
  const kinds = new Set(plans.map((p) => p.target));
  if (kinds.size > 1)
    throw new HarnessError(
      `scenarios ask for different targets (${[...kinds].join(', ')}); run them separately`,
    );
  return ([...kinds][0] ?? 'auto') as TargetKind;
}
