import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../scenario/find.ts';
import type { WorkloadOp } from '../model/workload.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
import { checkTrialPlan } from '../scenario/trial-plan-schema.ts';

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
  const checked = checkTrialPlan(plan);
  if (typeof checked === 'string')
    throw new InputError(`${file}: not a valid trial plan: ${checked}`);
  return checked;
}

/**
 * The workload a stored trial ran (`workload.jsonl`), so a replay feeds exactly those ops, not
 * ones regenerated from the seed (which a change to the generator would silently alter).
 */
export async function readStoredWorkload(dir: string): Promise<WorkloadOp[] | undefined> {
  const file = join(dir, 'workload.jsonl');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const op = JSON.parse(line) as Record<string, unknown>;
      const ok =
        Number.isSafeInteger(op.id) &&
        ((op.op === 'write' && Number.isSafeInteger(op.page) && typeof op.value === 'string') ||
          op.op === 'commit' ||
          (op.op === 'mark' && typeof op.name === 'string'));
      if (!ok) throw new InputError(`${file}:${i + 1}: not a workload op: ${line.slice(0, 80)}`);
      return op as WorkloadOp;
    });
}
