import type { Anomaly } from '../model/verdict.ts';
import type { WriteOp } from '../model/workload.ts';
import { describeValue, type HistoryIndex } from './history-index.ts';
import { shown, type Recovered } from './recovered.ts';

/**
 * lost-ack, non-transactional: an acknowledged write must be visible after recovery unless a
 * later write to the same page replaced it. The recovered value of a page must come from a write
 * that does not precede (complete before the start of) any acknowledged write to that page.
 * Acks made while the device was lying (drop/corrupt armed) are not held against the engine,
 * nor, under corruption, the older acks they superseded.
 * One anomaly per page, naming the newest lost ack and how many were lost.
 */
export function checkDurability(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  skip: Set<number>,
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
    const lost = fromThisPage
      ? acked.filter((a) => a.id !== fromThisPage.id && index.precedes(fromThisPage.id, a.id))
      : acked;
    if (lost.length === 0) continue;
    const newest = lost.reduce((x, y) =>
      (index.times.get(x.id)?.ok ?? 0) > (index.times.get(y.id)?.ok ?? 0) ? x : y,
    );
    const anomaly = lostAck(index, newest, lost.length, shown(r), fromThisPage);
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
 * The acknowledged writes (of one page) the engine is held to. Under corruption, a write the
 * engine believed durable lands damaged; the engine may then rightly reuse the space of the
 * older copy it replaced. So an ack superseded by an ack made while corruption was armed is not
 * held against the engine, nor an ack made while the device lied. (A dropped write changes
 * nothing on disk, so under drop_writes the older copy must still be there.)
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
  // The corrupting acks first (usually none): quadratic only in those.
  const corrupting = allAcked.filter((b) => index.ackedWhileCorrupting(b.id));
  return allAcked.filter(
    (a) => index.protectedAck(a.id) && !corrupting.some((b) => index.precedes(a.id, b.id)),
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
