import type { HistoryIndex } from './history-index.ts';

/** Page states after each prefix of transactions: states[k] = after commits 1..k (states[0] empty). */
export function committedStates(index: HistoryIndex): Map<number, string>[] {
  const states: Map<number, string>[] = [new Map()];
  let current = new Map<number, string>();
  let txn = 1;
  for (const w of index.writes) {
    const t = index.txnOf.get(w.id);
    if (t === undefined) break; // writes after the last commit belong to no transaction
    while (t > txn) {
      states.push(current);
      current = new Map(current);
      txn++;
    }
    current.set(w.page, w.value);
  }
  while (states.length <= index.commits.length) {
    states.push(current);
    current = new Map(current);
  }
  return states;
}

/** Highest k whose commit was acknowledged while the device was honest (0 if none). */
export function lastProtectedCommit(index: HistoryIndex): number {
  let k = 0;
  index.commits.forEach((c, i) => {
    if (index.protectedAck(c.id)) k = i + 1;
  });
  return k;
}

/** Highest k whose commit was invoked (its transaction may be on disk). */
export function lastInvokedCommit(index: HistoryIndex): number {
  let k = 0;
  index.commits.forEach((c, i) => {
    if (index.invoked(c.id)) k = i + 1;
  });
  return k;
}
