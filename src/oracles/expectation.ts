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
): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  for (const [kind, want] of Object.entries(expect) as [AnomalyKind, 'none' | 'some' | 'any'][]) {
    const found = verdict.anomalies.filter((a) => a.kind === kind).length;
    if (want === 'none' && found > 0) reasons.push(`expected no ${kind}, found ${found}`);
    if (want === 'some' && found === 0) reasons.push(`expected ${kind}, found none`);
  }
  return { ok: reasons.length === 0, reasons };
}
