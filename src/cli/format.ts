import type { TrialResult } from '../model/trial-result.ts';
import type { ExplorationReport } from '../model/trial-result.ts';
import { anomalyKinds } from '../model/verdict.ts';

/** One console line per trial: outcome, id, seed, what was acked and what was found. */
export function formatTrialLine(result: TrialResult, ms: number, where = ''): string {
  const { verdict, plan } = result;
  const status = result.expectation.ok ? 'PASS' : 'FAIL';
  const counts = anomalyKinds
    .map((k) => [k, verdict.anomalies.filter((a) => a.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  const found = counts.length > 0 ? counts.join(', ') : 'no anomalies';
  const why = result.expectation.ok ? '' : `  ← ${result.expectation.reasons.join('; ')}`;
  const lied = verdict.stats.ackedWhileFaulty;
  const acked = `acked ${verdict.stats.acked}/${verdict.stats.ops}${lied > 0 ? ` (${lied} while the device lied)` : ''}`;
  const line = `${status} ${plan.id.padEnd(34)} seed=${plan.seed}  ${acked}, ${found}${
    result.recoverError ? `, recover failed: ${result.recoverError}` : ''
  }  (${(ms / 1000).toFixed(1)} s${where})${why}`;
  const stderr = result.expectation.ok ? [] : stderrTail(result.engineStderr);
  const withStderr =
    stderr.length > 0
      ? `${line}\n${stderr.map((l) => `       engine stderr: ${l}`).join('\n')}`
      : line;
  return result.exploration
    ? `${withStderr}\n${formatExploration(result.exploration)}`
    : withStderr;
}

/** The last few non-empty lines an engine wrote on stderr (shown when a trial fails). */
export function stderrTail(stderr: string, lines = 3): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^--- \w+ ---$/.test(l))
    .slice(-lines);
}

/** The coverage of a log-writes trial: how many states, at which boundaries, how fast, which failed. */
export function formatExploration(e: ExplorationReport): string {
  const boundaries = Object.entries(e.byBoundary)
    .map(([b, n]) => `${b} ${n}`)
    .join(', ');
  const lines = [
    `       explored ${e.checked} crash states (${e.mode}: ${boundaries})${e.sampledFrom ? ` sampled from ${e.sampledFrom}` : ''} of ${e.logEntries - e.startEntry - 1} logged writes/flushes/marks, ${e.statesPerSecond.toFixed(2)} states/s; replay matches device: ${e.replayMatchesDevice ? 'yes' : 'NO'}`,
  ];
  if (e.screen)
    lines.push(
      `       screened on the host: ${e.screen.screened} states${e.screen.distinct !== undefined ? ` (${e.screen.distinct} distinct store images)` : ''} in ${(e.screen.ms / 1000).toFixed(1)} s; the kernel confirmed ${e.screen.confirmed} (every failing one, a sample of the rest)${e.screen.disagreements.length > 0 ? `; host and kernel disagreed on ${e.screen.disagreements.map((d) => d.id).join(' ')} (the kernel's verdict stands)` : ''}`,
    );
  for (const f of e.failing.slice(0, 5)) {
    lines.push(
      `       state ${f.id} (${f.boundary}, ${f.acked} acks): ${[...new Set(f.anomalies.map((a) => a.kind))].join(', ')} — rebuild: ${f.reproduce}`,
    );
  }
  if (e.failing.length > 5)
    lines.push(`       ... and ${e.failing.length - 5} more failing states`);
  return lines.join('\n');
}

export function formatSummary(results: readonly TrialResult[], harnessErrors: number): string {
  const asExpected = results.filter((r) => r.expectation.ok).length;
  const unexpected = results.length - asExpected;
  return `${results.length + harnessErrors} trials: ${asExpected} as expected, ${unexpected} not as expected, ${harnessErrors} harness errors`;
}
