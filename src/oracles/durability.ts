import type { Anomaly } from '../model/verdict.ts';
import type { WriteOp } from '../model/workload.ts';
import { describeValue, type HistoryIndex } from './history-index.ts';
import { shown, type Recovered } from './recovered.ts';

/**
 * lost-ack, non-transactional: an acknowledged write must be visible after recovery unless a
 * later write to the same page replaced it. The recovered value of a page must come from a write
 * that does not precede (complete before the start of) any acknowledged write to that page.
 * Acks exposed to a lying device (the op in flight while drop/corrupt was armed) are not held
 * against the engine, nor the older acks they superseded (see heldAcks).
 * One anomaly per page, naming the newest lost ack and how many were lost.
 */
export function checkDurability(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  skip: ReadonlySet<number>,
  physicalOf: ReadonlyMap<number, number> = new Map(),
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const [page, writes] of index.writesByPage) {
    if (skip.has(page)) continue;
    const acked = heldAcks(index, writes);
    if (acked.length === 0) continue;
    const r = recovered.get(page);
    const source = r?.kind === 'value' ? index.writeByValue.get(r.value) : undefined;
    const fromThisPage = source && source.page === page ? source : undefined;
    const lost = (
      fromThisPage
        ? acked.filter((a) => a.id !== fromThisPage.id && index.precedes(fromThisPage.id, a.id))
        : acked
    ).filter((a) => r?.kind !== 'error' || !reusedAfterDroppedAck(index, a, writes));
    if (lost.length === 0) continue;
    const newest = lost.reduce((x, y) =>
      (index.times.get(x.id)?.ok ?? 0) > (index.times.get(y.id)?.ok ?? 0) ? x : y,
    );
    const anomaly = lostAck(index, newest, lost.length, shown(r), fromThisPage);
    // A later write to this page (or to one sharing its physical page) met the lie, and the page
    // reads as damaged: the copy the engine would repair a torn in-place write from (a
    // doublewrite, a log) may never have been stored, or stored damaged.
    if (r?.kind === 'error' && rewrittenWhileLying(index, newest, physicalOf)) continue;
    const tearer = r?.kind === 'error' ? tearingWrite(index, newest, physicalOf) : undefined;
    if (tearer) {
      anomaly.ops.push(tearer.id);
      anomaly.message += `: its physical page ${physicalOf.get(newest.page)} is shared with page ${tearer.page}, and write ${tearer.id} to page ${tearer.page}, ${index.acked(tearer.id) ? 'acknowledged' : 'in flight'} after it, rewrote that physical page; a write torn by the crash takes every record on the page with it (collateral loss)`;
    }
    anomalies.push(anomaly);
  }
  return anomalies;
}

/**
 * The acknowledged writes (of one page) the engine is held to. An ack exposed to a lie (the op
 * was in flight while drop_writes or corrupt_bio_byte was armed) is not: its write may never
 * have been stored, or stored damaged. Under corruption, nor is an older ack it superseded: the
 * engine, believing the newer write durable, may rightly reuse the older copy's space, and the
 * damaged write may be what replaced it. (Under drop_writes a dropped write changes nothing on
 * disk: the older ack is excused only for a damaged page, see reusedAfterDroppedAck.)
 */
export function heldAcks(index: HistoryIndex, writes: readonly WriteOp[]): readonly WriteOp[] {
  // It depends on the history alone: computed once per index and list, however many crash
  // states (dumps) of one history are checked (quadratic in a page's writes, it had been most
  // of an exploration's check).
  let byList = heldCache.get(index);
  if (!byList) heldCache.set(index, (byList = new WeakMap()));
  let held = byList.get(writes);
  if (!held) byList.set(writes, (held = computeHeldAcks(index, writes)));
  return held;
}

const heldCache = new WeakMap<HistoryIndex, WeakMap<readonly WriteOp[], readonly WriteOp[]>>();

function computeHeldAcks(index: HistoryIndex, writes: readonly WriteOp[]): WriteOp[] {
  const allAcked = writes.filter((w) => index.acked(w.id));
  // The acks that excuse the older ones first (usually none): quadratic only in those.
  const superseding = allAcked.filter((b) => index.ackExposedToCorruption(b.id));
  return allAcked.filter(
    (a) => index.protectedAck(a.id) && !superseding.some((b) => index.precedes(a.id, b.id)),
  );
}

/**
 * Under drop_writes, an older ack is lost to the device when a newer ack to its page was
 * exposed to the lie and a later write began after that: believing the newer write durable,
 * the engine may have reused the older copy's space (a ping-pong engine's next write goes to
 * its slot), and a crash tearing that write leaves the page damaged. Only a damaged page is
 * excused so: an older value showing means the older ack's own write never became durable.
 */
function reusedAfterDroppedAck(
  index: HistoryIndex,
  a: WriteOp,
  writes: readonly WriteOp[],
): boolean {
  return writes.some(
    (b) =>
      index.ackExposedToLie(b.id) &&
      index.precedes(a.id, b.id) &&
      writes.some((c) => index.precedes(b.id, c.id)),
  );
}

/**
 * Whether a write begun after `lost` to its page, or to one on its physical page, met the lie
 * in a way that can leave the page damaged: in flight while corruption was armed, or across
 * the end of a drop window (wholly dropped, it changed nothing on disk).
 */
function rewrittenWhileLying(
  index: HistoryIndex,
  lost: WriteOp,
  physicalOf: ReadonlyMap<number, number>,
): boolean {
  const physical = physicalOf.get(lost.page);
  return index.writes.some(
    (w) =>
      (w.page === lost.page || (physical !== undefined && physicalOf.get(w.page) === physical)) &&
      index.precedes(lost.id, w.id) &&
      (index.exposedToCorruption(w.id) || index.inFlightAcrossDropEnd(w.id)),
  );
}

/**
 * The write that most likely tore the physical page a lost ack lived on: among writes started
 * after that ack to other logical pages kept on the same physical page (slotted pages), the
 * first one not acknowledged (the one in flight when the power went), else the last one.
 */
function tearingWrite(
  index: HistoryIndex,
  lost: WriteOp,
  physicalOf: ReadonlyMap<number, number>,
): WriteOp | undefined {
  const physical = physicalOf.get(lost.page);
  if (physical === undefined) return undefined;
  const candidates = index.writes
    .filter(
      (w) =>
        w.page !== lost.page &&
        physicalOf.get(w.page) === physical &&
        index.invoked(w.id) &&
        index.precedes(lost.id, w.id),
    )
    .sort((a, b) => (index.times.get(a.id)?.invoke ?? 0) - (index.times.get(b.id)?.invoke ?? 0));
  return candidates.find((w) => !index.acked(w.id)) ?? candidates.at(-1);
}

function lostAck(
  index: HistoryIndex,
  a: WriteOp,
  count: number,
  found: string | null,
  source: WriteOp | undefined,
): Anomaly {
  const at = index.times.get(a.id)?.ok;
  const holds = source
    ? `holds ${describeValue(found)} from write ${source.id}, which completed before write ${a.id} began`
    : `holds ${describeValue(found)}`;
  return {
    kind: 'lost-ack',
    page: a.page,
    ops: source ? [a.id, source.id] : [a.id],
    expected: a.value,
    found,
    message: `write ${a.id} (page ${a.page}, '${a.value}') was acknowledged at event ${at} but page ${a.page} ${holds}${
      count > 1 ? ` (${count} acknowledged writes to this page lost)` : ''
    }`,
  };
}
