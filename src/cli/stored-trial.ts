import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../scenario/find.ts';
import type { TrialPlan } from '../scenario/trial-plan.ts';

/**
 * The plan of a stored trial (`<trial-dir>/trial.json`), for replay and shrink. A missing or
 * malformed file is bad input, said in one line.
 */
export async function readStoredPlan(dir: string): Promise<TrialPlan> {
  const file = join(dir, 'trial.json');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new InputError(
      `${file}: no such file (give a trial folder: store/<scenario>/<time>/<trial>)`,
    );
  });
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${file}: not JSON (${(error as Error).message})`);
  }
  const p = plan as Partial<TrialPlan> | null;
  const missing = (
    ['id', 'seed', 'engine', 'workload', 'fault', 'filesystem', 'device'] as const
  ).filter((k) => p === null || typeof p !== 'object' || p[k] === undefined);
  if (missing.length > 0)
    throw new InputError(`${file}: not a trial plan (missing ${missing.join(', ')})`);
  return plan as TrialPlan;
}
