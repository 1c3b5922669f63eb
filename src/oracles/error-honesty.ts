import type { Anomaly } from '../model/verdict.ts';
import type { WriteOp } from '../model/workload.ts';
import type { HistoryIndex } from './history-index.ts';
import type { Recovered } from './recovered.ts';

/**
 * ack-after-eio. (1) An ack while error_writes was armed: no write could be durable then, so
 * the engine ignored or lost an error (unless the write was invoked before the fault and its
 * value survived: its sync ran before the fault and returned after it). (2) The fsyncgate
 * pattern: an op started inside the error window, acknowledged after it closed (a retried fsync
 * that "succeeded"), whose value did not survive. Returns the anomalies and the op ids it
 * explained (not lost-ack again).
 */
export function checkErrorHonesty(
  index: HistoryIndex,
  recovered: Map<number, Recovered>,
  transactional: boolean,
): { anomalies: Anomaly[]; explained: Set<number> } {
  const anomalies: Anomaly[] = [];
  const explained = new Set<number>();
  const errorWindows = index.windows.filter((w) => w.fault === 'error_writes');
  if (errorWindows.length === 0) return { anomalies, explained };
  const ackable = transactional ? index.commits : index.writes;
  for (const op of ackable) {
    const t = index.times.get(op.id);
    if (t?.ok === undefined) continue;
    const during = errorWindows.find((w) => t.ok! > w.from && t.ok! < w.to);
    // A write invoked before the window may have been synced before it too (a pipelined
    // engine's fdatasync can return just after the fault is armed): its ack is honest if the
    // value survived. One invoked inside the window cannot be durable, whatever survived.
    const syncedBefore =
      during !== undefined &&
      op.op === 'write' &&
      t.invoke !== undefined &&
      t.invoke < during.from &&
      survived(op, index, recovered);
    if (during && !syncedBefore) {
      anomalies.push({
        kind: 'ack-after-eio',
        ops: [op.id],
        ...pageOf(op),
        message: `op ${op.id} was acknowledged at event ${t.ok} while every write failed with EIO (error_writes armed at event ${during.from})`,
      });
      explained.add(op.id);
      continue;
    }
    const startedIn =
      t.invoke !== undefined
        ? errorWindows.find((w) => t.invoke! > w.from && t.invoke! < w.to)
        : undefined;
    if (startedIn && op.op === 'write') {
      if (!survived(op, index, recovered)) {
        const r = recovered.get(op.page);
        anomalies.push({
          kind: 'ack-after-eio',
          page: op.page,
          ops: [op.id],
          expected: op.value,
          found: r?.kind === 'value' ? r.value : null,
          message: `write ${op.id} started while writes failed with EIO, was acknowledged after the error cleared (fsyncgate: a retried fsync hid the loss), and '${op.value}' did not survive`,
        });
        explained.add(op.id);
      }
    }
  }
  return { anomalies, explained };
}

/** The write's value was recovered, or replaced by a write that does not precede it: not lost. */
function survived(op: WriteOp, index: HistoryIndex, recovered: Map<number, Recovered>): boolean {
  const r = recovered.get(op.page);
  const source = r?.kind === 'value' ? index.writeByValue.get(r.value) : undefined;
  return (
    !!source &&
    source.page === op.page &&
    (source.id === op.id || !index.precedes(source.id, op.id))
  );
}

const pageOf = (op: { op: string; page?: number }): { page?: number } =>
  op.op === 'write' && op.page !== undefined ? { page: op.page } : {};
