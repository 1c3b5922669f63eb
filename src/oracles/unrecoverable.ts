import type { Anomaly } from '../model/verdict.ts';
import { heldAcks } from './durability.ts';
import type { HistoryIndex } from './history-index.ts';
import { lastProtectedCommit, supersededWhileLying } from './transactions.ts';

/**
 * unrecoverable: the engine's `recover` failed, so its store is unusable and its dump is not
 * trusted. Every acknowledgement the engine is held to counts as lost, reported once with the
 * engine's own reason. Not held: acks made while the device lied, and (transactional) a last
 * acknowledged commit superseded by commits acknowledged while the device lied, whose space a
 * correct engine may have reused (supersededWhileLying).
 */
export function checkUnrecoverable(
  index: HistoryIndex,
  recoverError: string,
  transactional: boolean,
): Anomaly[] {
  let held: number[];
  if (transactional) {
    const K = lastProtectedCommit(index);
    held =
      K === 0 || supersededWhileLying(index, K)
        ? []
        : index.commits
            .slice(0, K)
            .filter((c) => index.acked(c.id))
            .map((c) => c.id);
  } else {
    held = [...index.writesByPage.values()].flatMap((w) => heldAcks(index, w)).map((w) => w.id);
  }
  if (held.length === 0) return [];
  const what = transactional ? 'commits' : 'writes';
  return [
    {
      kind: 'unrecoverable',
      ops: held,
      message: `recover failed (${recoverError}): the store is unusable, so all ${held.length} acknowledged ${what} the engine is held to count as lost`,
    },
  ];
}
