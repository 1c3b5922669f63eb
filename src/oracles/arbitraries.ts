import fc from 'fast-check';
import type { WorkloadOp } from '../model/workload.ts';

export type WorkloadShape = {
  pages: number;
  minOps?: number;
  /** Number of write ops (commits and marks come on top). */
  maxOps: number;
  transactional?: boolean;
  maxTxnSize?: number;
  valueSize?: number;
  /** Values get a size drawn from valueSize..valueSizeMax (variable-length records). */
  valueSizeMax?: number;
  /** Insert a workload mark after some writes. */
  marks?: boolean;
};

/**
 * A unique value for op `id`, e.g. `w7-000007`, padded with `.` to `size` characters.
 * @example makeValue(7) === 'w7-000007'
 */
export function makeValue(id: number, size = 0): string {
  const base = `w${id}-${String(id).padStart(6, '0')}`;
  return base.length >= size ? base : base + '.'.repeat(size - base.length);
}

/**
 * Workloads: writes to pages in [0, pages) with unique values, ids 1..n in order; with
 * `transactional`, commit boundaries (every write belongs to a transaction; the workload ends
 * with a commit). Shrinks toward fewer writes, lower pages and fewer transactions.
 * @example fc.sample(workloadArb({ pages: 8, maxOps: 20 }), 1)
 */
export function workloadArb(shape: WorkloadShape): fc.Arbitrary<WorkloadOp[]> {
  return workloadStepsArb(shape).map((steps) => stepsToOps(steps, shape));
}

/**
 * One generated write: its page, whether it closes a transaction, whether a mark follows, and
 * (with a size distribution) its value's size.
 */
export type WorkloadStep = { page: number; endTxn: boolean; mark: boolean; size?: number };

/**
 * The raw steps behind `workloadArb`. They can be shrunk without fast-check's context, so a
 * workload regenerated from a seed can be shrunk later (see `powercut shrink`).
 */
export function workloadStepsArb(shape: WorkloadShape): fc.Arbitrary<WorkloadStep[]> {
  const step = fc.record({
    page: fc.integer({ min: 0, max: Math.max(0, shape.pages - 1) }),
    endTxn: fc.integer({ min: 0, max: 3 }).map(
      (x) => x === 0,
      (b) => (b ? 0 : 1),
    ),
    mark: shape.marks ? fc.boolean() : fc.constant(false),
    ...(shape.valueSizeMax !== undefined && shape.valueSizeMax > (shape.valueSize ?? 0)
      ? { size: fc.integer({ min: shape.valueSize ?? 0, max: shape.valueSizeMax }) }
      : {}),
  });
  return fc.array(step, { minLength: shape.minOps ?? 1, maxLength: shape.maxOps });
}

export function stepsToOps(steps: readonly WorkloadStep[], shape: WorkloadShape): WorkloadOp[] {
  const ops: WorkloadOp[] = [];
  let id = 0;
  let txnSize = 0;
  for (const [i, s] of steps.entries()) {
    id++;
    ops.push({ op: 'write', id, page: s.page, value: makeValue(id, s.size ?? shape.valueSize) });
    txnSize++;
    const last = i === steps.length - 1;
    if (shape.transactional && (s.endTxn || last || txnSize >= (shape.maxTxnSize ?? 8))) {
      ops.push({ op: 'commit', id: ++id });
      txnSize = 0;
    }
    if (s.mark && !last) ops.push({ op: 'mark', id: ++id, name: `after-${id - 1}` });
  }
  return ops;
}

/** A point in a sequence of `n` steps (0..n), e.g. the device I/O after which power is cut. */
export function faultPointArb(n: number): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: Math.max(0, n) });
}
