import type { DecodedPage } from '../engine/page-format.ts';
import type { DumpEntry, History } from '../model/history.ts';
import type { Anomaly, Verdict } from '../model/verdict.ts';
import { checkAtomicity } from './atomicity.ts';
import { checkDurability } from './durability.ts';
import { checkTxnDurability } from './durability-txn.ts';
import { checkErrorHonesty } from './error-honesty.ts';
import { HistoryIndex } from './history-index.ts';
import { checkIntegrity } from './integrity.ts';
import { checkPhantom } from './phantom.ts';
import { recoveredByPage } from './recovered.ts';
import { checkFilesystem, type FsckOutcome } from './fs-corrupt.ts';
import { checkUnrecoverable } from './unrecoverable.ts';

export type CheckOptions = {
  /** cow-style engines: commits acknowledge transactions. */
  transactional: boolean;
  /**
   * Logical page → the raw on-disk copies it may be read from (built-in direct-layout engines:
   * its two ping-pong slots). Lets the integrity check see damage returned as data.
   */
  rawPages?: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Decodes a raw copy of `page` (callers checking many states that share copies may memoize). */
  decodeRaw?: (bytes: Uint8Array, page: number) => DecodedPage;
  /** The engine's `recover` failed with this reason: the dump is not trusted (unrecoverable). */
  recoverError?: string;
  /** The read-only filesystem check after recovery (fs-corrupt when not clean). */
  fsck?: FsckOutcome;
  /**
   * Pages whose loss the device caused, not the engine (a misdirected write's own page and the
   * page it landed on): durability does not hold the engine to them. What the engine returns
   * for them is still checked (a value from another page is a phantom).
   */
  excused?: ReadonlySet<number>;
  /**
   * The history already indexed (it must be `history`'s): callers checking many crash states of
   * one run index it once instead of once per state.
   */
  index?: HistoryIndex;
};

/**
 * Runs every checker over a history and the recovered dump. Pure: same inputs, same verdict.
 * @example const verdict = check({ ops, events }, dump, { transactional: false });
 *          if (!verdict.valid) console.log(verdict.anomalies.map((a) => a.message));
 */
export function check(
  history: History,
  dump: readonly DumpEntry[],
  options: CheckOptions,
): Verdict {
  const index = options.index ?? new HistoryIndex(history);
  if (index.history !== history) throw new Error('check: the index is of another history');
  const stats = verdictStats(index, dump, options.transactional);
  if (options.recoverError !== undefined) {
    // An unusable store: nothing in the dump is evidence of anything.
    const anomalies = [
      ...checkUnrecoverable(index, options.recoverError, options.transactional),
      ...checkFilesystem(options.fsck),
    ];
    return { valid: anomalies.length === 0, anomalies, stats };
  }
  const recovered = recoveredByPage(dump);
  const honesty = checkErrorHonesty(index, recovered, options.transactional);
  const integrity = checkIntegrity(index, recovered, options.rawPages, options.decodeRaw);
  const excused = options.excused ?? new Set<number>();
  // Which logical pages share a physical one (slotted pages), from the dump.
  const physicalOf = new Map(
    dump.flatMap((e) => (e.physical !== undefined ? [[e.page, e.physical] as const] : [])),
  );
  const durability = (
    options.transactional
      ? checkTxnDurability(index, recovered, excused)
      : checkDurability(index, recovered, excused, physicalOf)
  ).filter((a) => !honesty.explained.has(a.ops[0]!));
  const anomalies: Anomaly[] = [
    ...durability,
    ...checkPhantom(index, recovered, integrity.claimed),
    ...integrity.anomalies,
    ...(options.transactional ? checkAtomicity(index, recovered) : []),
    ...honesty.anomalies,
    ...checkFilesystem(options.fsck),
  ];
  return { valid: anomalies.length === 0, anomalies, stats };
}

function verdictStats(
  index: HistoryIndex,
  dump: readonly DumpEntry[],
  transactional: boolean,
): Verdict['stats'] {
  let recoveredValues = 0;
  let checksumErrors = 0;
  for (const e of dump) {
    if ('error' in e) checksumErrors++;
    else if (e.value !== null) recoveredValues++;
  }
  const h = historyStats(index, transactional);
  return {
    ops: h.ops,
    acked: h.acked,
    failed: h.failed,
    pages: dump.length,
    recoveredValues,
    checksumErrors,
    ackedWhileFaulty: h.ackedWhileFaulty,
  };
}

type HistoryStats = Omit<Verdict['stats'], 'pages' | 'recoveredValues' | 'checksumErrors'>;
const historyStatsCache = new WeakMap<HistoryIndex, Map<boolean, HistoryStats>>();

/** The stats that depend on the history alone: once per index, however many dumps it checks. */
function historyStats(index: HistoryIndex, transactional: boolean): HistoryStats {
  let byKind = historyStatsCache.get(index);
  if (!byKind) historyStatsCache.set(index, (byKind = new Map()));
  let stats = byKind.get(transactional);
  if (!stats) {
    const ackable = transactional ? index.commits : index.writes;
    stats = {
      ops: ackable.length,
      acked: ackable.filter((op) => index.acked(op.id)).length,
      failed: ackable.filter((op) => index.times.get(op.id)?.fail !== undefined).length,
      ackedWhileFaulty: ackable.filter((op) => index.ackExposedToLie(op.id)).length,
    };
    byKind.set(transactional, stats);
  }
  return stats;
}
