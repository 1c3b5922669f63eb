import { parseScenario } from '../../../src/scenario/load.ts';
import { expandScenario } from '../../../src/scenario/expand.ts';
import type { TrialPlan } from '../../../src/scenario/trial-plan.ts';

/** Trial plans from an inline scenario (the same path a YAML file takes). */
export function plans(yaml: string, seed = 11): TrialPlan[] {
  return expandScenario(parseScenario('inline.yaml', yaml), { baseSeed: seed });
}

let n = 0;
/** A fresh run id per trial (resource names are derived from it). */
export const runId = (): string => `t${process.pid.toString(36)}${(n++).toString(36)}`;
