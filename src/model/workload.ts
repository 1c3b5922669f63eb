/**
 * Workload operations: what the harness feeds an engine, one JSON line each (engine protocol v1).
 * Values are unique per write so the checker can map every recovered value back to its op.
 */
export type WriteOp = { op: 'write'; id: number; page: number; value: string };
/** Transactional engines: every write since the previous commit forms one transaction. */
export type CommitOp = { op: 'commit'; id: number };
/** A named point in the workload; the harness may arm a fault when the engine reaches it. */
export type MarkOp = { op: 'mark'; id: number; name: string };
/** Control line (not part of the history): releases an engine paused at a mark. */
export type ResumeOp = { op: 'resume' };

export type WorkloadOp = WriteOp | CommitOp | MarkOp;
export type InputLine = WorkloadOp | ResumeOp;

export function isWrite(op: WorkloadOp): op is WriteOp {
  return op.op === 'write';
}
