import { lyingFaults, type FaultKind, type History } from '../model/history.ts';
import type { CommitOp, WriteOp } from '../model/workload.ts';

export type OpTimes = { invoke?: number; ok?: number; fail?: number };
export type Window = { fault: FaultKind; from: number; to: number };

/**
 * Indexes a history once for every checker: each op's invoke/ok/fail event positions, the
 * writes by page, transactions (for transactional engines), and the nemesis windows.
 * Positions are indices into `history.events`; the order is what counts, never `t`.
 */
export class HistoryIndex {
  readonly times = new Map<number, OpTimes>();
  readonly writes: WriteOp[] = [];
  readonly writeById = new Map<number, WriteOp>();
  readonly writesByPage = new Map<number, WriteOp[]>();
  readonly writeByValue = new Map<string, WriteOp>();
  readonly commits: CommitOp[] = [];
  /** Write id → 1-based index of the transaction (commit) it belongs to. */
  readonly txnOf = new Map<number, number>();
  readonly windows: Window[] = [];

  constructor(readonly history: History) {
    let txnWrites: WriteOp[] = [];
    for (const op of history.ops) {
      if (op.op === 'write') {
        this.writes.push(op);
        this.writeById.set(op.id, op);
        this.writeByValue.set(op.value, op);
        const list = this.writesByPage.get(op.page) ?? [];
        list.push(op);
        this.writesByPage.set(op.page, list);
        txnWrites.push(op);
      } else if (op.op === 'commit') {
        this.commits.push(op);
        for (const w of txnWrites) this.txnOf.set(w.id, this.commits.length);
        txnWrites = [];
      }
    }
    const open = new Map<FaultKind, number>();
    history.events.forEach((e, i) => {
      if (e.type === 'nemesis') {
        if (e.action === 'arm' && e.fault && !open.has(e.fault)) open.set(e.fault, i);
        else if (e.action === 'disarm' || e.action === 'crash') {
          for (const [fault, from] of open)
            if (!e.fault || e.fault === fault || e.action === 'crash') {
              this.windows.push({ fault, from, to: i });
              open.delete(fault);
            }
        }
        return;
      }
      if (e.type === 'mark' || e.type === 'stop' || e.id === undefined) return;
      const t = this.times.get(e.id) ?? {};
      if (e.type === 'invoke') t.invoke ??= i;
      else if (e.type === 'ok') t.ok ??= i;
      else if (e.type === 'fail') t.fail ??= i;
      this.times.set(e.id, t);
    });
    for (const [fault, from] of open) this.windows.push({ fault, from, to: history.events.length });
  }

  acked(id: number): boolean {
    return this.times.get(id)?.ok !== undefined;
  }

  invoked(id: number): boolean {
    return this.times.get(id)?.invoke !== undefined;
  }

  /** Position of the op's answer (ok or fail), if any. */
  completion(id: number): number | undefined {
    const t = this.times.get(id);
    if (!t) return undefined;
    if (t.ok !== undefined && t.fail !== undefined) return Math.min(t.ok, t.fail);
    return t.ok ?? t.fail;
  }

  /** `a` completed before `b` was invoked (real-time order). */
  precedes(a: number, b: number): boolean {
    const done = this.completion(a);
    const start = this.times.get(b)?.invoke;
    return done !== undefined && start !== undefined && done < start;
  }

  /**
   * The op was acknowledged, and in flight (invoked, not yet acknowledged) at some point while
   * the device lied (drop_writes or corrupt_bio_byte armed): its bios may have gone down inside
   * the window even when the ack came after it (a buffered write goes down at the sync), so its
   * loss, and what the engine did believing it durable, are not the engine's fault.
   */
  ackExposedToLie(id: number): boolean {
    return this.ackExposedTo(id, lyingFaults);
  }

  /** As ackExposedToLie, for corrupt_bio_byte alone: its data may have landed damaged. */
  ackExposedToCorruption(id: number): boolean {
    return this.ackExposedTo(id, ['corrupt_bio_byte']);
  }

  private ackExposedTo(id: number, faults: readonly FaultKind[]): boolean {
    return this.acked(id) && this.exposedTo(id, faults);
  }

  /**
   * The op was in flight (from its invoke to its answer, or to the end of the history if it has
   * none) at some point while the device lied, acknowledged or not: what it wrote may never
   * have been stored, or stored damaged.
   */
  exposedToLie(id: number): boolean {
    return this.exposedTo(id, lyingFaults);
  }

  /** As exposedToLie, for corrupt_bio_byte alone. */
  exposedToCorruption(id: number): boolean {
    return this.exposedTo(id, ['corrupt_bio_byte']);
  }

  /**
   * The op was in flight when a drop_writes window was disarmed: its bios before that were
   * dropped, its later ones stored (a dropped write alone changes nothing on disk; half of one
   * can leave an in-place page torn with its repair copy never stored).
   */
  inFlightAcrossDropEnd(id: number): boolean {
    const t = this.times.get(id);
    if (t?.invoke === undefined) return false;
    const from = t.invoke;
    const until = this.completion(id) ?? this.history.events.length;
    return this.windows.some((w) => {
      const end = this.history.events[w.to];
      const disarmed = end?.type === 'nemesis' && end.action === 'disarm';
      return w.fault === 'drop_writes' && disarmed && from < w.to && until > w.to;
    });
  }

  private exposedTo(id: number, faults: readonly FaultKind[]): boolean {
    const t = this.times.get(id);
    if (t?.invoke === undefined && t?.ok === undefined) return false;
    const from = t.invoke ?? t.ok!;
    const until = this.completion(id) ?? this.history.events.length;
    return this.windows.some((w) => faults.includes(w.fault) && from < w.to && until > w.from);
  }

  /** Acked, and never in flight while the device lied. */
  protectedAck(id: number): boolean {
    return this.acked(id) && !this.ackExposedToLie(id);
  }

  corruptionArmed(): boolean {
    return this.windows.some((w) => w.fault === 'corrupt_bio_byte');
  }
}

export const describeValue = (v: string | null | undefined): string =>
  v === null || v === undefined ? 'nothing' : `'${v}'`;
