import { z } from 'zod';
import { builtinEngine, expectation, externalEngineFields, scenarioSchema } from './schema.ts';
import type { TrialPlan } from '../model/trial-plan.ts';

/**
 * A stored trial plan (`trial.json`), checked before replay or shrink runs it: its values reach
 * shell commands in the target (mount options, engine names, paths), so a hand-edited or
 * corrupted file must not. The same rules as a scenario's, field by field.
 */
export const trialPlanSchema = z.strictObject({
  scenario: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i),
  file: z.string(),
  id: z.string().regex(/^[a-z0-9+._!-]+$/i),
  seed: z.number().int(),
  target: scenarioSchema.shape.target,
  device: scenarioSchema.shape.device,
  filesystem: scenarioSchema.shape.filesystem,
  engine: z.union([
    builtinEngine.extend({ kind: z.literal('builtin') }),
    z.strictObject({
      ...externalEngineFields,
      kind: z.literal('external'),
      name: externalEngineFields.name.unwrap(),
      command: z.string().min(1),
      baseDir: z.string().startsWith('/'),
    }),
  ]),
  workload: scenarioSchema.shape.workload,
  fault: scenarioSchema.shape.fault,
  expect: expectation,
});

/** The plan, or the first problem found in it as `field: message`. */
export function checkTrialPlan(value: unknown): TrialPlan | string {
  const result = trialPlanSchema.safeParse(value);
  if (result.success) return result.data as TrialPlan;
  const issue = result.error.issues[0]!;
  return `${issue.path.join('.') || '(the plan)'}: ${issue.message}`;
}
