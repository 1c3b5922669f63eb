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
 * non-atomic (transactional engines): the recovered state must equal the state after some
 * commit k, with k ≥ the last acknowledged commit and k ≤ the last invoked one. Not a mix of
 * two commits, not a torn transaction. Reports the closest k and the pages that differ. When the
 * last acknowledged commit was superseded by commits acknowledged while the device lied, pages
 * the engine reports as corrupt are the device's doing and are not compared.
 */
export function checkAtomicity(index: HistoryIndex, recovered: Map<number, Recovered>): Anomaly[] {
  const states = committedStates(index);
  const from = lastProtectedCommit(index);
  const to = Math.max(from, lastInvokedCommit(index));
  const skipErrors = supersededWhileLying(index, from);
  let best: { k: number; state: Map<number, string>; diff: number[] } | undefined;
  for (let k = from; k <= to; k++) {
    for (const state of states[k]!) {
      const diff: number[] = [];
      for (const [page, r] of recovered) {
        if (skipErrors && r.kind === 'error') continue;
        const want = state.get(page) ?? null;
        // Written by a commit the device lied to: reported damaged is the device's doing.
        if (r.kind === 'error' && leftByExposedCommit(index, page, want)) continue;
        const have = r.kind === 'value' ? r.value : r.kind === 'null' ? null : undefined;
        if (have !== want) diff.push(page);
      }
      if (diff.length === 0) return [];
      if (!best || diff.length < best.diff.length) best = { k, state, diff };
    }
  }
  if (!best) return [];
  const state = best.state;
  const pages = best.diff
    .slice(0, 5)
    .map(
      (p) =>
        `page ${p}: '${state.get(p) ?? null}' vs ${shown(recovered.get(p)) === null ? 'nothing' : `'${shown(recovered.get(p))}'`}`,
    );
  return [
    {
      kind: 'non-atomic',
      ops: best.k > 0 ? [index.commits[best.k - 1]!.id] : [],
      message: `recovered state matches no commit in ${from}..${to}; closest is commit ${best.k}, differing on ${best.diff.length} page(s): ${pages.join('; ')}`,
    },
  ];
}
