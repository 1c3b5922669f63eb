import type { Anomaly } from '../model/verdict.ts';
import type { HistoryIndex } from './history-index.ts';
import type { Recovered } from './recovered.ts';

/**
 * No phantom: every recovered value was written to that page by an invoked write. A value
 * written to another page is a misdirected write; a value of a write the engine never started
 * cannot be on disk.
 */
export function checkPhantom(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  claimed: Set<number>,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const [page, r] of recovered) {
    if (r.kind !== 'value' || claimed.has(page)) continue;
    const w = index.writeByValue.get(r.value);
    if (!w) {
      anomalies.push({
        kind: 'phantom',
        page,
        ops: [],
        found: r.value,
        message: `page ${page} holds '${r.value}', which no write produced`,
      });
    } else if (w.page !== page) {
      anomalies.push({
        kind: 'phantom',
        page,
        ops: [w.id],
        found: r.value,
        message: `page ${page} holds '${r.value}', written by write ${w.id} to page ${w.page}: a misdirected write`,
      });
    } else if (!index.invoked(w.id)) {
      anomalies.push({
        kind: 'phantom',
        page,
        ops: [w.id],
        found: r.value,
        message: `page ${page} holds '${r.value}' from write ${w.id}, which the engine never started`,
      });
    }
  }
  return anomalies;
}
