import { mulberry32 } from '../sim/prng.ts';
import type { LogEntry } from './format.ts';
import { endMark, writesData } from './format.ts';

/**
 * Which crash states to check, from a recorded log (the `explore` of a log-writes scenario):
 * - `flush`: after every flush and FUA entry: what was durable at each barrier;
 * - `marks`: after every mark (one per engine acknowledgement);
 * - `reorder:N`: the flush states, plus, for every group of writes that one flush made
 *   durable, each state in which up to N of them had not reached the disk when the power went
 *   (the device may persist unflushed writes in any order);
 * - `tear:N`: the flush states, plus, for every write of several sectors that a crash could
 *   catch in flight (in an unflushed group), states in which only its first k sectors reached
 *   the disk, at up to N sector boundaries: a write persisted in part, at the device's atomic
 *   unit (its logical sector).
 */
export type ExploreMode =
  | { kind: 'flush' }
  | { kind: 'marks' }
  | { kind: 'reorder'; n: number }
  | { kind: 'tear'; n: number };

export type CrashState = {
  /**
   * `<at>`, `<at>~<dropped>.<dropped>`, or `<at>^<entry>:<sectors>` (a torn write): with the
   * base image and the log, reproduces the state.
   */
  id: string;
  /** The log entries [0, at) are on disk, minus `dropped`. */
  at: number;
  dropped: number[];
  /** A write that reached the disk only in part: its first `sectors` sectors. */
  torn?: { entry: number; sectors: number };
  /** The boundary this state was chosen at. */
  boundary: 'flush' | 'fua' | 'mark' | 'end' | 'reorder' | 'tear';
};

export function parseExploreMode(text: string): ExploreMode | undefined {
  if (text === 'flush' || text === 'marks') return { kind: text };
  const m = /^(reorder|tear):([1-9]\d?)$/.exec(text);
  return m ? { kind: m[1] as 'reorder' | 'tear', n: Number(m[2]) } : undefined;
}

export const formatExploreMode = (mode: ExploreMode): string =>
  mode.kind === 'reorder' || mode.kind === 'tear' ? `${mode.kind}:${mode.n}` : mode.kind;

export const stateId = (
  at: number,
  dropped: readonly number[],
  torn?: { entry: number; sectors: number },
): string =>
  torn
    ? `${at}^${torn.entry}:${torn.sectors}`
    : dropped.length === 0
      ? String(at)
      : `${at}~${dropped.join('.')}`;

export function parseStateId(
  id: string,
): { at: number; dropped: number[]; torn?: { entry: number; sectors: number } } | undefined {
  const t = /^(\d+)\^(\d+):(\d+)$/.exec(id);
  if (t)
    return { at: Number(t[1]), dropped: [], torn: { entry: Number(t[2]), sectors: Number(t[3]) } };
  const m = /^(\d+)(?:~(\d+(?:\.\d+)*))?$/.exec(id);
  if (!m) return undefined;
  return { at: Number(m[1]), dropped: m[2] ? m[2].split('.').map(Number) : [] };
}

/**
 * A cut after entry i is moved forward over entries that write nothing (marks, empty
 * flushes): the image is the same, and the state then counts every acknowledgement whose
 * mark precedes it, the strongest claim that image must satisfy.
 */
export function extendCut(entries: readonly LogEntry[], at: number): number {
  let end = at;
  while (end < entries.length && !writesData(entries[end]!)) end++;
  return end;
}

/** Unflushed groups: maximal runs of plain writes (no flush, no FUA), any subset of which may be lost. */
export function unflushedGroups(entries: readonly LogEntry[]): LogEntry[][] {
  const groups: LogEntry[][] = [];
  let run: LogEntry[] = [];
  for (const e of entries) {
    if (writesData(e) && !e.flush && !e.fua) {
      run.push(e);
      continue;
    }
    if (run.length > 0) groups.push(run);
    run = [];
  }
  if (run.length > 0) groups.push(run);
  return groups;
}

/**
 * The crash states to check, deduplicated (two cuts with the same image are one state) and
 * in log order; only cuts at or after entry `from` (the start of the engine's run). With more than `maxStates` reorder states, a seeded sample of them is kept
 * (`sampledFrom` says of how many).
 */
export function exploreStates(
  entries: readonly LogEntry[],
  mode: ExploreMode,
  options: { maxStates: number; seed: number; from?: number },
): { states: CrashState[]; sampledFrom?: number } {
  const from = options.from ?? 0;
  const byAt = new Map<number, CrashState>();
  const add = (after: number, boundary: CrashState['boundary']): void => {
    const at = extendCut(entries, after);
    if (!byAt.has(at)) byAt.set(at, { id: stateId(at, []), at, dropped: [], boundary });
  };
  add(from, 'flush'); // nothing of the run reached the disk
  for (const e of entries.slice(from)) {
    const after = e.index + 1;
    if (mode.kind === 'marks') {
      // The kernel's own end mark is not an acknowledgement: the cut after it is the 'end' state.
      if (e.mark !== undefined && e.mark !== endMark) add(after, 'mark');
    } else if (e.flush) add(after, 'flush');
    else if (e.fua) add(after, 'fua');
  }
  add(entries.length, 'end');
  const barrierStates = [...byAt.values()];
  if (mode.kind === 'tear') return tearStates(entries.slice(from), mode.n, barrierStates, options);
  if (mode.kind !== 'reorder') return { states: barrierStates.sort((a, b) => a.at - b.at) };

  const groups = unflushedGroups(entries.slice(from)).map((group) => ({
    at: group.at(-1)!.index + 1,
    indexes: group.map((e) => e.index),
    max: Math.min(mode.n, group.length),
  }));
  const counts = groups.map((g) => subsetCount(g.indexes.length, g.max));
  const total = counts.reduce((a, b) => a + b, 0);
  const room = Math.max(0, options.maxStates - barrierStates.length);
  const reorder: CrashState[] = [];
  const push = (at: number, dropped: number[]): void =>
    void reorder.push({ id: stateId(at, dropped), at, dropped, boundary: 'reorder' });
  if (total <= room) {
    for (const g of groups) for (const dropped of subsets(g.indexes, g.max)) push(g.at, dropped);
  } else {
    // Too many to check them all: a seeded sample, each state equally likely.
    const random = mulberry32(options.seed);
    const seen = new Set<string>();
    for (let tries = 0; reorder.length < room && tries < room * 20; tries++) {
      let pick = Math.floor(random() * total);
      const g = groups[counts.findIndex((c) => (pick -= c) < 0)]!;
      const dropped = randomSubset(g.indexes, g.max, random);
      const id = stateId(g.at, dropped);
      if (seen.has(id)) continue;
      seen.add(id);
      push(g.at, dropped);
    }
  }
  return {
    states: [...barrierStates, ...reorder].sort(
      (a, b) => a.at - b.at || a.dropped.length - b.dropped.length || a.id.localeCompare(b.id),
    ),
    ...(reorder.length < total ? { sampledFrom: barrierStates.length + total } : {}),
  };
}

/**
 * Torn-write states: each multi-sector write of an unflushed group, cut after k of its sectors
 * (k at up to n evenly spaced boundaries), with every entry before it on disk and none after.
 * Not extended past the next entries (a flush after it would have made it whole).
 */
function tearStates(
  entries: readonly LogEntry[],
  n: number,
  barrierStates: CrashState[],
  options: { maxStates: number; seed: number },
): { states: CrashState[]; sampledFrom?: number } {
  const torn: CrashState[] = [];
  for (const group of unflushedGroups(entries)) {
    for (const e of group) {
      if (e.discard || e.nrSectors < 2) continue;
      const cuts = Math.min(n, e.nrSectors - 1);
      for (let i = 1; i <= cuts; i++) {
        const sectors = Math.round((i * e.nrSectors) / (cuts + 1));
        const t = { entry: e.index, sectors };
        torn.push({
          id: stateId(e.index + 1, [], t),
          at: e.index + 1,
          dropped: [],
          torn: t,
          boundary: 'tear',
        });
      }
    }
  }
  const room = Math.max(0, options.maxStates - barrierStates.length);
  let kept = torn;
  if (torn.length > room) {
    const random = mulberry32(options.seed);
    const pool = [...torn];
    for (let i = 0; i < room; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    kept = pool.slice(0, room);
  }
  return {
    states: [...barrierStates, ...kept].sort(
      (a, b) => a.at - b.at || (a.torn?.sectors ?? 0) - (b.torn?.sectors ?? 0),
    ),
    ...(kept.length < torn.length ? { sampledFrom: barrierStates.length + torn.length } : {}),
  };
}

/** How many non-empty subsets of at most `max` of `k` items there are. */
function subsetCount(k: number, max: number): number {
  let sum = 0;
  let c = 1; // C(k, 0)
  for (let d = 1; d <= max; d++) {
    c = (c * (k - d + 1)) / d;
    sum += c;
  }
  return sum;
}

/** A uniformly chosen subset size (weighted by how many subsets have it), then a uniform subset. */
function randomSubset(items: readonly number[], max: number, random: () => number): number[] {
  let pick = Math.floor(random() * subsetCount(items.length, max));
  let size = 1;
  for (let c = items.length; size <= max; size++) {
    if ((pick -= c) < 0) break;
    c = (c * (items.length - size)) / (size + 1);
  }
  const pool = [...items];
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, Math.min(size, max)).sort((a, b) => a - b);
}

/** Non-empty subsets of `items` with at most `max` elements, smallest first. */
function* subsets(items: readonly number[], max: number): Generator<number[]> {
  function* choose(start: number, size: number): Generator<number[]> {
    if (size === 0) {
      yield [];
      return;
    }
    for (let i = start; i <= items.length - size; i++)
      for (const rest of choose(i + 1, size - 1)) yield [items[i]!, ...rest];
  }
  for (let size = 1; size <= max; size++) yield* choose(0, size);
}

/**
 * The acknowledgements whose marks (`ack:<id>`) lie before a cut of one log, for every cut: the
 * ops a state there must hold. The marks are parsed once, and the set for a cut is built once
 * per number of acks before it (cuts with as many share one set: do not change it). Judging
 * ~1,000 states had spent more time rescanning the log than checking them.
 * @example acksBeforeEach(entries)(state.at).has(3)
 */
export function acksBeforeEach(entries: readonly LogEntry[]): (at: number) => ReadonlySet<number> {
  const marks: { position: number; id: number }[] = [];
  entries.forEach((e, position) => {
    const m = e.mark === undefined ? null : /^ack:(\d+)$/.exec(e.mark);
    if (m) marks.push({ position, id: Number(m[1]) });
  });
  const sets = new Map<number, ReadonlySet<number>>();
  return (at) => {
    let lo = 0;
    let hi = marks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid]!.position < at) lo = mid + 1;
      else hi = mid;
    }
    let set = sets.get(lo);
    if (!set) {
      set = new Set(marks.slice(0, lo).map((m) => m.id));
      sets.set(lo, set);
    }
    return set;
  };
}
