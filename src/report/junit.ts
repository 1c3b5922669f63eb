import type { TrialResult } from '../model/trial-result.ts';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JUnit XML for CI systems: one testsuite per scenario, one testcase per trial; a trial whose
 * verdict is not what the scenario expects is a failure listing every anomaly.
 * @example await writeFileAtomic('store/x/junit.xml', junitXml('fsync-vs-plain', results));
 */
export function junitXml(
  scenario: string,
  results: readonly TrialResult[],
  errors: readonly { id: string; message: string }[] = [],
): string {
  const failures = results.filter((r) => !r.expectation.ok).length;
  const seconds = (r: TrialResult): string =>
    (Object.values(r.phaseMs).reduce((a, b) => a + b, 0) / 1000).toFixed(3);
  const cases = results.map((r) => {
    const open = `    <testcase classname="${esc(scenario)}" name="${esc(r.plan.id)} seed=${r.plan.seed}" time="${seconds(r)}">`;
    if (r.expectation.ok) return `${open}</testcase>`;
    const detail = r.verdict.anomalies.map((a) => `${a.kind}: ${a.message}`).join('\n');
    return `${open}\n      <failure message="${esc(r.expectation.reasons.join('; '))}">${esc(detail)}</failure>\n    </testcase>`;
  });
  const errored = errors.map(
    (e) =>
      `    <testcase classname="${esc(scenario)}" name="${esc(e.id)}">\n      <error message="${esc(e.message)}"/>\n    </testcase>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites>`,
    `  <testsuite name="${esc(scenario)}" tests="${results.length + errors.length}" failures="${failures}" errors="${errors.length}">`,
    ...cases,
    ...errored,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
