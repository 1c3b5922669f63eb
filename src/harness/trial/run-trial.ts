import type { TrialPlan } from '../../model/trial-plan.ts';
import type { TrialResult } from '../../model/trial-result.ts';
import { TrialAgent } from '../agent/trial-agent.ts';
import type { Target } from '../target/target.ts';
import { installUserEngine } from './guest-engine.ts';
import type { RunTrialOptions } from './trial-options.ts';
import { defaultStepTimeoutMs, runTrialSteps } from './trial-steps.ts';
import { generateWorkload } from './workload-gen.ts';

export type { RunTrialOptions } from './trial-options.ts';
export { trialPhases, type TrialPhase, type TrialResult } from '../../model/trial-result.ts';

/**
 * One trial, Jepsen-style, on a real kernel, whatever its fault: step by step from here
 * (runTrialSteps), or, with `via: 'agent'`, a dm-flakey trial on a remote target runs inside
 * it, in the trial agent, the same steps in one request. The agent is not the default: in the
 * embedded one-CPU TCG guest it measured no faster (its node takes the CPU the engine and the
 * kernel need, and a command costs a process start there either way; docs/benchmarks.md).
 * A log-writes trial (the host screens and downloads) and a local one always run here.
 */
export async function runTrial(
  target: Target,
  plan: TrialPlan,
  options: RunTrialOptions,
): Promise<TrialResult> {
  if (plan.engine.kind === 'external') await installUserEngine(target, plan.engine);
  const ops = options.ops ?? generateWorkload(plan);
  const inAgent =
    options.via === 'agent' && target.kind !== 'local' && plan.fault.kind !== 'log-writes';
  if (!inAgent) return runTrialSteps(target, plan, { ...options, ops });
  const agent = await TrialAgent.for(target);
  return agent.run(
    plan,
    {
      ops,
      ...(options.onPhase ? { onPhase: options.onPhase } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.quietMs !== undefined ? { quietMs: options.quietMs } : {}),
    },
    // No step may take longer than its timeout, and the agent beats while a step runs.
    Math.max(options.timeoutMs ?? defaultStepTimeoutMs, 60_000),
  );
}
