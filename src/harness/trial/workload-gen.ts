import fc from 'fast-check';
import { workloadArb, type WorkloadShape } from '../../oracles/arbitraries.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import { isTransactional } from '../../model/trial-plan.ts';

/**
 * The trial's workload, drawn from the scenario's shape with the trial's seed: the same seed
 * always gives the same ops, which is what makes `replay` reproduce a trial.
 */
export function generateWorkload(plan: TrialPlan): WorkloadOp[] {
  const [ops] = fc.sample(workloadArb(workloadShape(plan)), { seed: plan.seed, numRuns: 1 });
  if (!ops) throw new Error('workload generator produced nothing');
  return ops;
}

/** The workload shape of a plan; `minOps` below `ops` lets shrinking go down to fewer writes. */
export function workloadShape(plan: TrialPlan, minOps = plan.workload.ops): WorkloadShape {
  const w = plan.workload;
  return {
    pages: w.pages,
    minOps,
    maxOps: w.ops,
    transactional: isTransactional(plan.engine),
    maxTxnSize: w.txnSize,
    valueSize: w.valueSize,
    ...(w.valueSizeMax !== undefined ? { valueSizeMax: w.valueSizeMax } : {}),
  };
}
