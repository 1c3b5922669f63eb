import type { Verdict } from '../model/verdict.ts';
import { meetsExpectation, type Expectation } from '../oracles/expectation.ts';

/** A readable explanation of a verdict: one line per anomaly, with the numbers. */
export function explainVerdict(verdict: Verdict): string {
  const s = verdict.stats;
  const head = `${s.acked}/${s.ops} acknowledged, ${s.failed} failed, ${s.ackedWhileFaulty} acknowledged while the device lied; ${verdict.anomalies.length} anomalies`;
  return [head, ...verdict.anomalies.map((a) => `  ${a.kind}: ${a.message}`)].join('\n');
}

/** Thrown by `assertVerdict`; its message explains every anomaly. */
export class VerdictError extends Error {
  override name = 'VerdictError';
  constructor(
    readonly verdict: Verdict,
    reasons: string[],
  ) {
    super(`${reasons.join('; ')}\n${explainVerdict(verdict)}`);
  }
}

/**
 * Throws a VerdictError unless the verdict meets the expectation (default: no anomaly at all).
 * Use it in an ava test or inside a fast-check property.
 * @example assertVerdict(result.verdict, { 'lost-ack': 'none' });
 */
export function assertVerdict(verdict: Verdict, expect?: Expectation): void {
  if (!expect) {
    if (!verdict.valid) throw new VerdictError(verdict, ['expected no anomalies']);
    return;
  }
  const m = meetsExpectation(verdict, expect);
  if (!m.ok) throw new VerdictError(verdict, m.reasons);
}
