import type { HistoryIndex } from './history-index.ts';

export type PageState = Map<number, string>;

/**
 * The states recovery may land on "at commit k", for k = 0..commits: statesAt[k] lists them.
 * A failed commit aborts its transaction (engine protocol: later commits do not include its
 * writes), but whether its meta reached the disk is unknown, so at a failed commit k the state
 * is either the previous one or the previous one plus transaction k.
 */
export function committedStates(index: HistoryIndex): PageState[][] {
  const statesAt: PageState[][] = [[new Map()]];
  let base: PageState = new Map();
  index.commits.forEach((commit, i) => {
    const k = i + 1;
    const applied = new Map(base);
    for (const w of index.writes) if (index.txnOf.get(w.id) === k) applied.set(w.page, w.value);
    if (index.times.get(commit.id)?.fail !== undefined) {
      statesAt.push([base, applied]);
    } else {
      base = applied;
      statesAt.push([applied]);
    }
  });
  return statesAt;
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

/**
 * Whether commit k was superseded by a commit acknowledged, and in flight while the device
 * lied (drop_writes or corrupt_bio_byte armed). A correct engine that believed those later
 * commits durable may rightly reuse commit k's space (its meta slot, the pages it freed) for
 * them, and the device then destroyed or never stored what it was given. So after such a
 * commit, recovery showing a later state, no state at all (an unusable store) or a detected
 * checksum error is the device's doing, not the engine's. An older state the engine could have
 * kept, or damaged data returned as values, still counts. (A commit still in flight licenses no
 * reuse: only its own pages are excused, see leftByExposedCommit.)
 */
export function supersededWhileLying(index: HistoryIndex, k: number): boolean {
  return index.commits.slice(k).some((c) => index.ackExposedToLie(c.id));
}

/**
 * Whether `value` on `page` was left by a transaction whose commit was in flight while the
 * device lied: its pages may never have been stored, or stored damaged, and a later commit
 * that kept the page unchanged does not make them durable. Recovery reporting that page
 * damaged is then the device's doing (an engine reports a mapped page it cannot read as
 * damaged; an empty page means an older state, which still counts).
 */
export function leftByExposedCommit(
  index: HistoryIndex,
  page: number,
  value: string | null,
): boolean {
  if (value === null) return false;
  const writer = index.writesByPage.get(page)?.find((w) => w.value === value);
  const txn = writer ? index.txnOf.get(writer.id) : undefined;
  const commit = txn !== undefined ? index.commits[txn - 1] : undefined;
  return commit !== undefined && index.exposedToLie(commit.id);
}
