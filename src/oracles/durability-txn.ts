import type { Anomaly } from '../model/verdict.ts';
import type { HistoryIndex } from './history-index.ts';
import { shown, type Recovered } from './recovered.ts';
import {
  committedStates,
  lastInvokedCommit,
  lastProtectedCommit,
  leftByExposedCommit,
  supersededWhileLying,
} from './transactions.ts';

/**
 * lost-ack, transactional: after recovery every page must be at least as new as its value in
 * the last acknowledged commit K: its value must be what some commit k ≥ K left there. When K
 * was superseded by commits acknowledged while the device lied, a page the engine reports as
 * corrupt is the device's doing (see supersededWhileLying); an older value still counts.
 */
export function checkTxnDurability(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  skip: ReadonlySet<number>,
): Anomaly[] {
  const K = lastProtectedCommit(index);
  if (K === 0) return [];
  const states = committedStates(index);
  const last = Math.max(K, lastInvokedCommit(index));
  const commit = index.commits[K - 1]!;
  const deviceDamageExempt = supersededWhileLying(index, K);
  const anomalies: Anomaly[] = [];
  // Every acknowledged commit up to K succeeded, so the state at K is unique.
  const atK = states[K]![0]!;
  for (const page of atK.keys()) {
    if (skip.has(page)) continue;
    const expected = atK.get(page) ?? null;
    const acceptable = new Set<string | null>();
    for (let k = K; k <= last; k++)
      for (const state of states[k]!) acceptable.add(state.get(page) ?? null);
    const r = recovered.get(page);
    if (r?.kind === 'error' && deviceDamageExempt) continue;
    // A state recovery may land on has this page's value from a commit the device lied to: a
    // page reported damaged is the device's doing (an empty one is not: an older state shows).
    if (r?.kind === 'error' && [...acceptable].some((v) => leftByExposedCommit(index, page, v)))
      continue;
    const found = r?.kind === 'value' ? r.value : r?.kind === 'error' ? undefined : null;
    if (found !== undefined && acceptable.has(found)) continue;
    // A value nobody wrote to this page is phantom/integrity's finding, not a lost ack.
    if (
      found !== undefined &&
      found !== null &&
      !index.writesByPage.get(page)?.some((w) => w.value === found)
    )
      continue;
    const writer = index.writes.find((w) => w.value === expected);
    anomalies.push({
      kind: 'lost-ack',
      page,
      ops: [commit.id, ...(writer ? [writer.id] : [])],
      expected,
      found: shown(r),
      message: `commit ${commit.id} (transaction ${K}) was acknowledged with page ${page} = '${expected}'${
        writer ? ` (write ${writer.id})` : ''
      }, but recovery shows ${shown(r) === null ? 'nothing' : `'${shown(r)}'`}, which no commit ≥ ${K} left there`,
    });
  }
  return anomalies;
}
