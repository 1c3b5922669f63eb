import type { TrialResult } from '../harness/trial/run-trial.ts';
import { anomalyKinds } from '../model/verdict.ts';

/** One console line per trial: outcome, id, seed, what was acked and what was found. */
export function formatTrialLine(result: TrialResult, ms: number): string {
  const { verdict, plan } = result;
  const status = result.expectation.ok ? 'PASS' : 'FAIL';
  const counts = anomalyKinds
    .map((k) => [k, verdict.anomalies.filter((a) => a.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  const found = counts.length > 0 ? counts.join(', ') : 'no anomalies';
  const why = result.expectation.ok ? '' : `  ← ${result.expectation.reasons.join('; ')}`;
  return `${status} ${plan.id.padEnd(34)} seed=${plan.seed}  acked ${verdict.stats.acked}/${verdict.stats.ops}, ${found}${
    result.recoverError ? `, recover failed: ${result.recoverError}` : ''
  }  (${(ms / 1000).toFixed(1)} s)${why}`;
}

export function formatSummary(results: readonly TrialResult[], harnessErrors: number): string {
  const asExpected = results.filter((r) => r.expectation.ok).length;
  const unexpected = results.length - asExpected;
  return `${results.length + harnessErrors} trials: ${asExpected} as expected, ${unexpected} not as expected, ${harnessErrors} harness errors`;
}
