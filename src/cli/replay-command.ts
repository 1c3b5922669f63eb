import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openTrialTarget, runTrialOn } from '../harness/trial/trial-target.ts';
import type { TargetKind } from '../harness/target/select.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
import type { Verdict } from '../model/verdict.ts';
import { RunStore, runStamp } from '../report/run-store.ts';
import { formatTrialLine } from './format.ts';
import { readStoredWorkload } from './stored-trial.ts';

/**
 * Re-runs a stored trial (same plan: seed, workload, fault and arm point) and reports whether
 * the verdict matches the stored one: same anomaly kinds on the same pages.
 */
export async function replayTrial(
  dir: string,
  plan: TrialPlan,
  options: { target?: TargetKind; storeRoot: string; log: (line: string) => void },
): Promise<boolean> {
  const stored = JSON.parse(await readFile(join(dir, 'verdict.json'), 'utf8')) as Verdict;
  const target = await openTrialTarget(options.target ?? plan.target ?? 'auto', {
    log: options.log,
  });
  try {
    const started = Date.now();
    // Exactly the ops the stored trial ran (workload.jsonl), not ones regenerated from the seed.
    const ops = await readStoredWorkload(dir);
    const result = await runTrialOn(target, plan, { ...(ops ? { ops } : {}), log: options.log });
    const store = new RunStore(options.storeRoot, `${plan.scenario}-replay`, runStamp(new Date()));
    await store.init(await readFile(join(dir, '..', 'scenario.yaml'), 'utf8').catch(() => ''));
    await store.writeTrial(result);
    options.log(formatTrialLine(result, Date.now() - started));
    const same = signature(result.verdict) === signature(stored);
    options.log(
      same
        ? `replay reproduced the stored verdict (${signature(stored) || 'no anomalies'})`
        : `replay differs: stored [${signature(stored)}], now [${signature(result.verdict)}]`,
    );
    return same;
  } finally {
    await target.teardown();
  }
}

const signature = (v: Verdict): string =>
  v.anomalies
    .map((a) => `${a.kind}@${a.page ?? '-'}`)
    .sort()
    .join(',');
