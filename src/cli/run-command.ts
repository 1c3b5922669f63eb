import { randomBytes } from 'node:crypto';
import { HarnessError } from '../harness/errors.ts';
import type { TrialPhase, TrialResult } from '../model/trial-result.ts';
import { withProgress } from './progress.ts';
import { prepareTarget, runTrialOn } from '../harness/trial/trial-target.ts';
import type { TargetKind } from '../harness/target/select.ts';
import { SlotPool, startSlots } from '../harness/target/slots.ts';
import type { Target } from '../harness/target/target.ts';
import { RunStore, runStamp } from '../report/run-store.ts';
import { InputError } from '../scenario/find.ts';
import { dealTrials, trialKey, type Shard } from './shard.ts';
import { writeShardManifest } from './shard-manifest.ts';
import { expandScenario } from '../scenario/expand.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
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
  /** This run's folder name in the store (default: its start time). */
  runId?: string;
  /** Run only this shard's trials (dealt by dealTrials; the seed must be given). */
  shard?: Shard;
  /** Measured seconds per trial key, to balance the shards. */
  shardWeights?: ReadonlyMap<string, number>;
  /** Trials at once: guests booted (qemu) or connections (ssh, vagrant, local). */
  jobs?: number;
  /** Where a dm-flakey trial's steps run: in the target's trial agent, or from here (default). */
  via?: 'agent' | 'steps';
  log: (line: string) => void;
};

export type RunOutcome = { results: TrialResult[]; harnessErrors: number; unexpected: number };

/**
 * Runs every trial of the given scenarios on `jobs` slots (guests booted once and reused, or
 * connections to one target), into one store and one report per scenario.
 */
export async function runScenarios(
  scenarios: LoadedScenario[],
  options: RunOptions,
): Promise<RunOutcome> {
  if (options.shard && options.seed === undefined)
    throw new InputError(
      '--shard needs --seed: every shard must expand the same plan (the same seed on every machine)',
    );
  const baseSeed = options.seed ?? randomBytes(4).readUInt32BE() % 1_000_000;
  options.log(`seed ${baseSeed} (rerun with --seed ${baseSeed})`);
  const all = scenarios.map((s) => ({
    loaded: s,
    plans: expandScenario(s, { baseSeed }).filter((p) => selected(`${s.name}/${p.id}`, options)),
  }));
  const everyPlan = all.flatMap((p) => p.plans);
  const mine = options.shard
    ? new Set(
        dealTrials(everyPlan.map(trialKey), options.shard.total, options.shardWeights)[
          options.shard.index - 1
        ],
      )
    : undefined;
  const planned = all.map((p) => ({
    ...p,
    plans: mine ? p.plans.filter((plan) => mine.has(trialKey(plan))) : p.plans,
  }));
  const runId = options.runId ?? runStamp(new Date());
  if (options.shard)
    options.log(
      `shard ${options.shard.index}/${options.shard.total}: ${mine!.size} of ${everyPlan.length} trials`,
    );
  const kind = options.target ?? pickTargetKind(planned.flatMap((p) => p.plans));
  const queue = planned.flatMap(({ loaded, plans }) => plans.map((plan) => ({ loaded, plan })));
  const bootStart = Date.now();
  const { targets, jobs } = await startSlots(kind, options.jobs, {
    log: options.log,
    maxUseful: Math.max(1, queue.length),
  });
  const first = targets[0]!;
  options.log(
    targets.length === 1
      ? `target: ${first.description} (ready in ${((Date.now() - bootStart) / 1000).toFixed(1)} s)`
      : `targets: ${targets.length} of ${jobs} slots ready in ${((Date.now() - bootStart) / 1000).toFixed(1)} s: ${targets.map((t, i) => `[${i + 1}] ${t.description}`).join('; ')}`,
  );
  const outcome: RunOutcome = { results: [], harnessErrors: 0, unexpected: 0 };
  try {
    await Promise.all(targets.map((t) => prepareTarget(t)));
    if (options.shard)
      await writeShardManifest(options.storeRoot, {
        runId,
        seed: baseSeed,
        shard: options.shard,
        plans: everyPlan,
        assigned: [...mine!].sort(),
        target: {
          kind: first.kind,
          kernel: (await first.exec('uname -r', { check: false })).stdout.trim(),
        },
      });
    // One store per scenario, its reports written when its last trial is done.
    const scenarioRuns = new Map<string, ScenarioRun>();
    for (const { loaded, plans } of planned) {
      if (plans.length === 0) continue; // --only/--skip/--shard selected none of its trials
      const store = new RunStore(options.storeRoot, loaded.name, runId);
      await store.init(loaded.source);
      options.log(`${loaded.file}: ${plans.length} trial(s) → ${store.dir}`);
      scenarioRuns.set(loaded.name, { store, left: plans.length, results: [], errors: [] });
    }
    const pool = new SlotPool(targets);
    const reports: string[] = [];
    const label = (slot: number): string => (targets.length > 1 ? ` on guest ${slot + 1}` : '');
    const runQueued = async (
      { loaded, plan }: (typeof queue)[number],
      log: (line: string) => void,
      onPhase?: (phase: TrialPhase, slot: number) => void,
    ): Promise<TrialResult | { error: string }> => {
      let result: TrialResult | { error: string };
      let held: { slot: number; value: Target } | undefined;
      try {
        held = await pool.acquire();
      } catch {
        result = { error: 'no target left to run it (every slot was lost)' };
      }
      if (held) {
        const { slot, value: target } = held;
        const store = scenarioRuns.get(loaded.name)!.store;
        result = await runOne(target, store, plan, outcome, { ...options, log }, label(slot), (p) =>
          onPhase?.(p, slot),
        );
        const lost = 'error' in result && !(await stillThere(target));
        pool.release(slot, lost);
        if (lost)
          log(`slot ${slot + 1} (${target.description}) is gone: the next trials go to the others`);
      }
      const run = scenarioRuns.get(loaded.name)!;
      if ('error' in result!) run.errors.push({ id: plan.id, message: result.error });
      else run.results.push(result!);
      if (--run.left === 0) {
        await run.store.writeReports(loaded.name, byPlanOrder(run.results), run.errors);
        reports.push(`  report: ${run.store.dir}/report.html (JUnit: junit.xml)`);
      }
      return result!;
    };
    if (options.progress) {
      await withProgress(queue, targets.length, runQueued);
    } else {
      await Promise.all(queue.map((item) => runQueued(item, options.log)));
    }
    for (const line of reports) options.log(line);
  } finally {
    await Promise.all(targets.map((t) => t.teardown()));
  }
  options.log(formatSummary(byPlanOrder(outcome.results), outcome.harnessErrors));
  return outcome;
}

type ScenarioRun = {
  store: RunStore;
  left: number;
  results: TrialResult[];
  errors: { id: string; message: string }[];
};

/** Results in the order they were planned, whichever guest finished first. */
const byPlanOrder = (results: readonly TrialResult[]): TrialResult[] =>
  [...results].sort((a, b) => trialKey(a.plan).localeCompare(trialKey(b.plan)));

/** Whether a slot's target still answers (after a trial's harness error). */
async function stillThere(target: Target): Promise<boolean> {
  try {
    return (await target.exec('true', { timeoutMs: 30_000, check: false })).code === 0;
  } catch {
    return false;
  }
}

async function runOne(
  target: Target,
  store: RunStore,
  plan: TrialPlan,
  outcome: RunOutcome,
  options: RunOptions,
  where: string,
  onPhase?: (phase: TrialPhase) => void,
): Promise<TrialResult | { error: string }> {
  const started = Date.now();
  try {
    const result = await runTrialOn(target, plan, {
      ...(onPhase ? { onPhase } : {}),
      ...(options.via ? { via: options.via } : {}),
      log: (line) => options.log(`  ${line}`),
    });
    const dir = await store.writeTrial(result);
    options.log(formatTrialLine(result, Date.now() - started, where));
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
    options.log(`ERROR ${plan.id} seed=${plan.seed}${where}: ${message}`);
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
