import type { AnomalyKind, Verdict } from '../model/verdict.ts';

export type Expectation = Partial<Record<AnomalyKind, 'none' | 'some' | 'any'>>;

/**
 * Whether a verdict is what the scenario expects: `none` (must not appear), `some` (must
 * appear: "plain loses data" is a passing demonstration), `any` (not judged).
 * @example meetsExpectation(verdict, { 'lost-ack': 'some' }) // plain under a drop window
 */
export function meetsExpectation(
  verdict: Verdict,
  expect: Expectation,
  options: { requireAnswers?: boolean } = {},
): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  // A whole trial in which the engine answered nothing (no ok, no fail: a broken engine, or
  // output that is not the protocol's) tested nothing, so it can never pass.
  const { ops, acked, failed } = verdict.stats;
  if (options.requireAnswers && ops > 0 && acked + failed === 0)
    reasons.push(
      `the engine answered none of its ${ops} ops (no ok or fail event): nothing was tested`,
    );
  for (const [kind, want] of Object.entries(expect) as [AnomalyKind, 'none' | 'some' | 'any'][]) {
    const found = verdict.anomalies.filter((a) => a.kind === kind).length;
    if (want === 'none' && found > 0) reasons.push(`expected no ${kind}, found ${found}`);
    if (want === 'some' && found === 0) reasons.push(`expected ${kind}, found none`);
  }
  return { ok: reasons.length === 0, reasons };
}
