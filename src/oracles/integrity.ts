import { type DecodedPage, decodePage, decodeValue, PageKind } from '../engine/page-format.ts';
import type { Anomaly } from '../model/verdict.ts';
import type { HistoryIndex } from './history-index.ts';
import type { Recovered } from './recovered.ts';

/**
 * Torn or corrupt pages must be detected (dump `{error}`), never returned as data.
 * With raw pages (built-in engines with page p at p*pageSize): a value returned from a page
 * whose bytes do not verify is undetected damage. Without them: a value nobody wrote that
 * splices two values written to the page is a torn write; any other unknown value under an
 * armed corruption fault is corruption; the rest is left to the phantom check.
 * Returns the anomalies and the pages it explained (so phantom does not count them twice).
 */
export function checkIntegrity(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  rawPages?: ReadonlyMap<number, readonly Uint8Array[]>,
  decode: (bytes: Uint8Array, page: number) => DecodedPage = decodePage,
): { anomalies: Anomaly[]; claimed: Set<number> } {
  const anomalies: Anomaly[] = [];
  const claimed = new Set<number>();
  const kindFor = (): 'corrupt-undetected' | 'torn-undetected' =>
    index.corruptionArmed() ? 'corrupt-undetected' : 'torn-undetected';
  for (const [page, r] of recovered) {
    if (r.kind !== 'value') continue;
    const copies = rawPages?.get(page);
    if (copies) {
      const decoded = copies.map((c) => decode(c, page));
      const intact = decoded.some(
        (d) =>
          d.state === 'ok' &&
          d.header.kind === PageKind.data &&
          d.header.page === page &&
          decodeValue(d.payload) === r.value,
      );
      // A verified copy of another page, returned as this one: a misdirected write the engine
      // did not notice, which the phantom check names (with the write that made it).
      const misplaced = decoded.some(
        (d) =>
          d.state === 'ok' &&
          d.header.kind === PageKind.data &&
          d.header.page !== page &&
          decodeValue(d.payload) === r.value,
      );
      if (!intact && !misplaced) {
        const kind = kindFor();
        const bad = decoded.find((d) => d.state === 'corrupt');
        const why =
          bad && bad.state === 'corrupt'
            ? `no copy on disk verifies (${bad.reason})`
            : 'no verified copy on disk holds it';
        anomalies.push({
          kind,
          page,
          ops: idsOf(index, r.value),
          found: r.value,
          message: `page ${page} was returned as '${r.value}' but ${why}: ${kind === 'corrupt-undetected' ? 'corruption' : 'a torn write'} went undetected`,
        });
        claimed.add(page);
      }
      continue;
    }
    if (index.writeByValue.has(r.value)) continue;
    const splice = findSplice(index, page, r.value);
    if (splice) {
      anomalies.push({
        kind: 'torn-undetected',
        page,
        ops: splice,
        found: r.value,
        message: `page ${page} holds '${r.value}', a splice of writes ${splice[0]} and ${splice[1]}: a torn write returned as data`,
      });
      claimed.add(page);
    } else if (index.corruptionArmed()) {
      anomalies.push({
        kind: 'corrupt-undetected',
        page,
        ops: [],
        found: r.value,
        message: `page ${page} holds '${r.value}', which no write produced, while corruption was armed: corruption returned as data`,
      });
      claimed.add(page);
    }
  }
  return { anomalies, claimed };
}

function idsOf(index: HistoryIndex, value: string): number[] {
  const w = index.writeByValue.get(value);
  return w ? [w.id] : [];
}

/** [a, b] when `value` = a prefix of write a's value + the matching suffix of write b's (same page). */
function findSplice(
  index: HistoryIndex,
  page: number,
  value: string,
): [number, number] | undefined {
  const writes = index.writesByPage.get(page) ?? [];
  for (const a of writes) {
    for (const b of writes) {
      if (a === b || a.value.length !== value.length || b.value.length !== value.length) continue;
      for (let cut = 1; cut < value.length; cut++) {
        if (value.startsWith(a.value.slice(0, cut)) && value.endsWith(b.value.slice(cut)))
          return [a.id, b.id];
      }
    }
  }
  return undefined;
}
