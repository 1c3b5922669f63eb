import fc from 'fast-check';
import { openTrialTarget, runTrialOn } from '../harness/trial/trial-target.ts';
import type { TrialResult } from '../model/trial-result.ts';
import { workloadShape } from '../harness/trial/workload-gen.ts';
import type { TargetKind } from '../harness/target/select.ts';
import type { WorkloadOp } from '../model/workload.ts';
import { stepsToOps, workloadStepsArb } from '../oracles/arbitraries.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
import { formatTrialLine } from './format.ts';

/**
 * Re-runs a failing trial on the real target under fast-check: the first run regenerates the
 * trial's own workload from its seed, and each shrink step is a real trial, so the result is
 * a minimal workload that still fails (verdict not as the scenario expects). `maxTrials` caps
 * the real trials; past it, every further candidate counts as passing, so the smallest
 * failure found so far is what is reported.
 */
export async function shrinkTrial(
  plan: TrialPlan,
  options: { target?: TargetKind; maxTrials: number; log: (line: string) => void },
): Promise<{ ops: WorkloadOp[]; result: TrialResult } | undefined> {
  const target = await openTrialTarget(options.target ?? plan.target ?? 'auto', {
    log: options.log,
  });
  let trials = 0;
  let smallest: { ops: WorkloadOp[]; result: TrialResult } | undefined;
  try {
    const original = fc.sample(workloadStepsArb(workloadShape(plan)), {
      seed: plan.seed,
      numRuns: 1,
    })[0]!;
    const shape = workloadShape(plan, 1);
    const property = fc.asyncProperty(workloadStepsArb(shape), async (steps) => {
      if (trials >= options.maxTrials) return true;
      trials++;
      const ops = stepsToOps(steps, shape);
      const started = Date.now();
      const result = await runTrialOn(target, plan, { ops, log: options.log });
      options.log(
        `  [${trials}/${options.maxTrials}] ${ops.length} ops: ${formatTrialLine(result, Date.now() - started)}`,
      );
      if (!result.expectation.ok && (!smallest || ops.length <= smallest.ops.length))
        smallest = { ops, result };
      return result.expectation.ok;
    });
    // The trial's own workload first (regenerated from its seed), then shrinking from it.
    await fc.check(property, { examples: [[original]], numRuns: 1, seed: plan.seed });
  } finally {
    await target.teardown();
  }
  return smallest;
}
