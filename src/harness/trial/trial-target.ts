import { describeSweep, sweepStale } from '../device/sweep.ts';
import { startTarget, type StartTargetOptions, type TargetKind } from '../target/select.ts';
import type { Target } from '../target/target.ts';
import type { TrialPhase, TrialResult } from '../../model/trial-result.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import { installGuestEngine } from './guest-engine.ts';
import { runTrial } from './run-trial.ts';

/**
 * How every caller runs trials on a target (the run, replay and shrink commands, the library's
 * `trial()`): the guest engine installed once per target, then per trial the stale sweep of
 * dead runs' leftovers and the trial itself. One place, so they cannot drift apart.
 */

const prepared = new WeakMap<Target, Promise<void>>();

/** Installs the guest engine on `target` once (concurrent callers share the one install). */
export function prepareTarget(target: Target): Promise<void> {
  let ready = prepared.get(target);
  if (!ready) {
    ready = installGuestEngine(target);
    prepared.set(target, ready);
    // A failed install is not remembered: the next caller tries again.
    ready.catch(() => prepared.delete(target));
  }
  return ready;
}

/** Starts a target of `kind` and prepares it for trials. */
export async function openTrialTarget(
  kind: TargetKind,
  options: StartTargetOptions = {},
): Promise<Target> {
  const target = await startTarget(kind, options);
  try {
    await prepareTarget(target);
  } catch (error) {
    await target.teardown();
    throw error;
  }
  return target;
}

export type TrialOnTarget = {
  /** Exactly these ops instead of the ones drawn from the plan's seed. */
  ops?: WorkloadOp[];
  onPhase?: (phase: TrialPhase) => void;
  /** Where the trial's steps run (run-trial.ts): in the target's trial agent, or from here. */
  via?: 'agent' | 'steps';
  /** What the stale sweep removed or could not remove, one line each. */
  log?: (line: string) => void;
};

/** One trial on a prepared target: the stale sweep first, then the trial. */
export async function runTrialOn(
  target: Target,
  plan: TrialPlan,
  options: TrialOnTarget = {},
): Promise<TrialResult> {
  await prepareTarget(target);
  const swept = await sweepStale(target);
  for (const line of describeSweep(swept)) options.log?.(line);
  return runTrial(target, plan, {
    ...(options.ops ? { ops: options.ops } : {}),
    ...(options.onPhase ? { onPhase: options.onPhase } : {}),
    ...(options.via ? { via: options.via } : {}),
  });
}
