import type { ExplorationReport } from '../model/trial-result.ts';
import type { TrialResult } from '../model/trial-result.ts';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A self-contained HTML report (no network, no scripts): a summary table, then per trial a
 * timeline (acknowledged writes over time, the fault window, the crash, which acknowledged
 * values survived) and the list of anomalies.
 * @example await writeFileAtomic(join(store.dir, 'report.html'), htmlReport('fsync-vs-plain', results));
 */
export function htmlReport(scenario: string, results: readonly TrialResult[]): string {
  const rows = results
    .map(
      (r) =>
        `<tr class="${r.expectation.ok ? 'pass' : 'fail'}"><td>${r.expectation.ok ? 'PASS' : 'FAIL'}</td><td><a href="#${esc(r.plan.id)}">${esc(r.plan.id)}</a></td><td>${r.plan.seed}</td><td>${r.verdict.stats.acked}/${r.verdict.stats.ops}</td><td>${r.verdict.stats.ackedWhileFaulty}</td><td>${esc(counts(r))}</td><td>${esc(r.expectation.reasons.join('; '))}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>powercut: ${esc(scenario)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}
tr.fail td:first-child{color:#b00;font-weight:bold}tr.pass td:first-child{color:#070;font-weight:bold}
section{margin-top:2.5em}svg{background:#fafafa;border:1px solid #ddd}.legend span{margin-right:1.2em}
.sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}
</style></head><body>
<h1>powercut: ${esc(scenario)}</h1>
<table><tr><th></th><th>trial</th><th>seed</th><th>acked</th><th>acked while faulty</th><th>anomalies</th><th>why not as expected</th></tr>
${rows}
</table>
${results.map(trialSection).join('\n')}
</body></html>
`;
}

function counts(r: TrialResult): string {
  const by = new Map<string, number>();
  for (const a of r.verdict.anomalies) by.set(a.kind, (by.get(a.kind) ?? 0) + 1);
  return [...by].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
}

function trialSection(r: TrialResult): string {
  const anomalies = r.verdict.anomalies
    .map((a) => `<li><b>${esc(a.kind)}</b>: ${esc(a.message)}</li>`)
    .join('\n');
  return `<section id="${esc(r.plan.id)}"><h2>${esc(r.plan.id)} <small>seed ${r.plan.seed}</small></h2>
<p>${esc(r.plan.filesystem.type)}${r.plan.filesystem.mountOptions ? ` (${esc(r.plan.filesystem.mountOptions)})` : ''}, engine ${esc(r.plan.engine.kind === 'builtin' ? r.plan.engine.mode : r.plan.engine.command)}, fault ${esc(r.plan.fault.kind)} ${esc(r.plan.fault.kind === 'log-writes' ? `explore ${r.plan.fault.explore ?? 'flush'}` : JSON.stringify(r.plan.fault.arm ?? r.plan.fault.schedule ?? 'at the crash'))}${r.recoverError ? `, recover failed: ${esc(r.recoverError)}` : ''}</p>
${timeline(r)}
<div class="legend"><span><i class="sw" style="background:#2a7"></i>acked, survived or replaced</span><span><i class="sw" style="background:#d33"></i>acked, lost (anomaly)</span><span><i class="sw" style="background:#999"></i>acked while the device lied</span><span><i class="sw" style="background:#e90"></i>failed</span><span><i class="sw" style="background:#fdd"></i>fault window</span></div>
${r.exploration ? explorationTable(r.exploration) : ''}
${anomalies ? `<ul>${anomalies}</ul>` : '<p>No anomalies.</p>'}
</section>`;
}

/** Coverage of a log-writes trial: states by boundary, speed, and every failing state. */
function explorationTable(e: ExplorationReport): string {
  const boundaries = Object.entries(e.byBoundary)
    .map(([b, n]) => `${esc(b)} ${n}`)
    .join(', ');
  const rows = e.failing
    .map(
      (f) =>
        `<tr><td>${esc(f.id)}</td><td>${esc(f.boundary)}</td><td>${f.acked}</td><td>${esc([...new Set(f.anomalies.map((a) => a.kind))].join(', '))}</td><td><code>${esc(f.reproduce)}</code></td></tr>`,
    )
    .join('\n');
  return `<p>Explored ${e.checked} crash states (${esc(e.mode)}: ${boundaries})${e.sampledFrom ? `, sampled from ${e.sampledFrom}` : ''}, ${e.statesPerSecond.toFixed(2)} states/s; replay equals the recorded device: ${e.replayMatchesDevice ? 'yes' : 'NO'}.</p>
${rows ? `<table><tr><th>state</th><th>boundary</th><th>acks held</th><th>anomalies</th><th>rebuild the image</th></tr>${rows}</table>` : ''}`;
}

function timeline(r: TrialResult): string {
  const events = r.history.events;
  const width = 900;
  const height = 120;
  const x = (i: number): number => 10 + (i / Math.max(1, events.length - 1)) * (width - 20);
  const lost = new Set(
    r.verdict.anomalies.flatMap((a) =>
      a.kind === 'lost-ack' || a.kind === 'ack-after-eio' ? [a.ops[0]!] : [],
    ),
  );
  const parts: string[] = [];
  let armedAt: number | undefined;
  events.forEach((e, i) => {
    if (e.type === 'nemesis') {
      if (e.action === 'arm' && armedAt === undefined) armedAt = i;
      if ((e.action === 'disarm' || e.action === 'crash') && armedAt !== undefined) {
        parts.push(
          `<rect x="${x(armedAt)}" y="5" width="${Math.max(1, x(i) - x(armedAt))}" height="${height - 10}" fill="#fdd"><title>${esc(e.fault ?? r.plan.fault.kind)} armed</title></rect>`,
        );
        armedAt = undefined;
      }
      if (e.action === 'crash')
        parts.push(
          `<line x1="${x(i)}" x2="${x(i)}" y1="0" y2="${height}" stroke="#000" stroke-dasharray="4 2"><title>plug pulled</title></line>`,
        );
    }
  });
  let faulty = false;
  events.forEach((e, i) => {
    if (e.type === 'nemesis')
      faulty =
        e.action === 'arm' && e.fault !== 'error_writes'
          ? true
          : e.action === 'disarm'
            ? false
            : faulty;
    if (e.type === 'ok') {
      const colour = lost.has(e.id) ? '#d33' : faulty ? '#999' : '#2a7';
      parts.push(
        `<rect x="${x(i) - 1.5}" y="30" width="3" height="40" fill="${colour}"><title>ack of op ${e.id}</title></rect>`,
      );
    } else if (e.type === 'fail') {
      parts.push(
        `<rect x="${x(i) - 1.5}" y="75" width="3" height="20" fill="#e90"><title>op ${e.id} failed: ${esc(e.err)}</title></rect>`,
      );
    }
  });
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline">${parts.join('')}<text x="10" y="${height - 8}" font-size="10">history order →</text></svg>`;
}
