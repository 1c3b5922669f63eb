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

  inWindow(position: number, faults: readonly FaultKind[]): Window | undefined {
    return this.windows.find(
      (w) => faults.includes(w.fault) && position > w.from && position < w.to,
    );
  }

  /** The op was acknowledged while the device was lying: its loss is not the engine's fault. */
  ackedWhileLying(id: number): boolean {
    const ok = this.times.get(id)?.ok;
    return ok !== undefined && this.inWindow(ok, lyingFaults) !== undefined;
  }

  /** The op was acknowledged while corrupt_bio_byte was armed: its data landed damaged. */
  ackedWhileCorrupting(id: number): boolean {
    const ok = this.times.get(id)?.ok;
    return ok !== undefined && this.inWindow(ok, ['corrupt_bio_byte']) !== undefined;
  }

  /** Acked, and acked while the device was honest. */
  protectedAck(id: number): boolean {
    return this.acked(id) && !this.ackedWhileLying(id);
  }

  corruptionArmed(): boolean {
    return this.windows.some((w) => w.fault === 'corrupt_bio_byte');
  }
}

export const describeValue = (v: string | null | undefined): string =>
  v === null || v === undefined ? 'nothing' : `'${v}'`;
