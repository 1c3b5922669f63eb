/**
 * powercut's library API: run real crash trials from your own tests (ava + fast-check).
 * See docs/api.md.
 */
export { trial, type TrialSpec } from './api/trial.ts';
export { assertVerdict, explainVerdict, VerdictError } from './api/assert-verdict.ts';
export { startTarget, type TargetKind } from './harness/target/select.ts';
export { startQemuTarget } from './harness/target/qemu.ts';
export type { Target } from './harness/target/target.ts';
export type { TrialResult } from './model/trial-result.ts';
export {
  workloadArb,
  faultPointArb,
  makeValue,
  type WorkloadShape,
} from './oracles/arbitraries.ts';
export { check, type CheckOptions } from './oracles/check.ts';
export { meetsExpectation, type Expectation } from './oracles/expectation.ts';
export type { History, HistoryEvent, DumpEntry } from './model/history.ts';
export type { WorkloadOp } from './model/workload.ts';
export type { Verdict, Anomaly, AnomalyKind } from './model/verdict.ts';
export { default as fc } from 'fast-check';
