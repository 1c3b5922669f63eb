import type { HistoryEvent } from '../../model/history.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import type { EngineSession } from './engine-session.ts';

/**
 * What "the engine has answered every op in `fed`" means: writes (or, for transactional
 * engines, commits) answered with ok/fail; writes of a still-open transaction only invoked.
 * This is the point at which a fault is armed "after op N".
 */
export function settleSets(
  fed: readonly WorkloadOp[],
  transactional: boolean,
): { answers: number[]; invoked: number[] } {
  const lastCommit = transactional ? fed.findLastIndex((op) => op.op === 'commit') : -1;
  const answers: number[] = [];
  const invoked: number[] = [];
  fed.forEach((op, i) => {
    if (op.op === 'mark') return;
    if (!transactional) {
      if (op.op === 'write') answers.push(op.id);
    } else if (op.op === 'commit') answers.push(op.id);
    else if (i > lastCommit) invoked.push(op.id);
  });
  return { answers, invoked };
}

/** True once every op in `fed` that the engine will answer has been answered (settleSets). */
export function settled(
  history: readonly HistoryEvent[],
  fed: readonly WorkloadOp[],
  transactional: boolean,
): boolean {
  const invoked = new Set<number>();
  const completed = new Set<number>();
  for (const e of history) {
    if (e.type === 'invoke') invoked.add(e.id);
    else if (e.type === 'ok' || e.type === 'fail') completed.add(e.id);
  }
  const sets = settleSets(fed, transactional);
  return (
    sets.answers.every((id) => completed.has(id)) && sets.invoked.every((id) => invoked.has(id))
  );
}

/** True once the engine has taken (invoked) every write and commit in `fed`. */
export function allTaken(history: readonly HistoryEvent[], fed: readonly WorkloadOp[]): boolean {
  const invoked = new Set<number>();
  for (const e of history) if (e.type === 'invoke') invoked.add(e.id);
  return fed.every((op) => op.op === 'mark' || invoked.has(op.id));
}

/** Sends ops in order, optionally paced to `opsPerSecond`. */
export async function feedOps(
  session: EngineSession,
  ops: readonly WorkloadOp[],
  opsPerSecond?: number,
): Promise<void> {
  const gapMs = opsPerSecond ? 1000 / opsPerSecond : 0;
  const start = Date.now();
  for (const [i, op] of ops.entries()) {
    if (gapMs > 0) {
      const due = start + i * gapMs - Date.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
    await session.send(op);
  }
}

/**
 * The end of a workload: waits until every op was answered (or the engine went quiet) with
 * stdin still open, since a paused engine needs it for `resume`; runs `beforeClose`; closes
 * stdin and waits for the engine to exit. Problems are logged: the trial goes on to the crash.
 */
export async function finishWorkload(
  session: EngineSession,
  ops: readonly WorkloadOp[],
  o: {
    transactional: boolean;
    quietMs: number;
    timeoutMs: number;
    log: string[];
    beforeClose?: () => Promise<void>;
  },
): Promise<{ code: number | null; stderr: string }> {
  const answered = await session
    .settle(
      (h) => settled(h, ops, o.transactional),
      (h) => allTaken(h, ops),
      o.quietMs,
      o.timeoutMs,
      'the end of the workload',
    )
    .catch((error: Error) => (o.log.push(error.message), true));
  if (!answered) o.log.push('engine went quiet with ops unanswered at the end of the workload');
  await o.beforeClose?.();
  session.closeInput();
  return session.finished(o.timeoutMs).catch((error: Error) => {
    o.log.push(error.message);
    return { code: null, stderr: '' };
  });
}
