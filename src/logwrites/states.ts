import { mulberry32 } from '../sim/prng.ts';
import type { FileExtent } from '../harness/fs/store-extents.ts';
import type { SectorRange } from '../harness/device/dm-table.ts';
import type { LogEntry } from './format.ts';
import { endMark, touchesRanges, writesData } from './format.ts';

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
 *   unit (its logical sector);
 * - `misdirect:N`: the flush states, plus, for every write inside the store, N states in which
 *   the device put it at another block of the store (a misdirected write: firmware that got
 *   the address wrong), each cut at the first barrier after it, when the device says it is
 *   durable. The targets are drawn from the trial's seed, page-aligned, inside the store.
 */
export type ExploreMode =
  | { kind: 'flush' }
  | { kind: 'marks' }
  | { kind: 'reorder'; n: number }
  | { kind: 'tear'; n: number }
  | { kind: 'misdirect'; n: number };

/** A write the device stored at another place: entry `entry`'s data at log sector `sector`. */
export type Misdirect = { entry: number; sector: number };

/**
 * Where a write may be misdirected to: the store's extents (512-byte sectors, file order), the
 * part of the file the engine uses (the file may be longer), and the unit targets are aligned
 * to in the file (the engine's page).
 */
export type MisdirectSpace = {
  extents: readonly FileExtent[];
  fileBytes: number;
  alignBytes: number;
};

export type CrashState = {
  /**
   * `<at>`, `<at>~<dropped>.<dropped>`, `<at>^<entry>:<sectors>` (a torn write) or
   * `<at>@<entry>:<sector>` (a misdirected write): with the base image and the log, reproduces
   * the state.
   */
  id: string;
  /** The log entries [0, at) are on disk, minus `dropped`. */
  at: number;
  dropped: number[];
  /** A write that reached the disk only in part: its first `sectors` sectors. */
  torn?: { entry: number; sectors: number };
  /** A write that reached the disk at another place. */
  misdirect?: Misdirect;
  /** The boundary this state was chosen at. */
  boundary: 'flush' | 'fua' | 'mark' | 'end' | 'reorder' | 'tear' | 'misdirect';
};

export function parseExploreMode(text: string): ExploreMode | undefined {
  if (text === 'flush' || text === 'marks') return { kind: text };
  const m = /^(reorder|tear|misdirect):([1-9]\d?)$/.exec(text);
  return m ? { kind: m[1] as 'reorder' | 'tear' | 'misdirect', n: Number(m[2]) } : undefined;
}

export const formatExploreMode = (mode: ExploreMode): string =>
  'n' in mode ? `${mode.kind}:${mode.n}` : mode.kind;

export const stateId = (
  at: number,
  dropped: readonly number[],
  torn?: { entry: number; sectors: number },
  misdirect?: Misdirect,
): string =>
  torn
    ? `${at}^${torn.entry}:${torn.sectors}`
    : misdirect
      ? `${at}@${misdirect.entry}:${misdirect.sector}`
      : dropped.length === 0
        ? String(at)
        : `${at}~${dropped.join('.')}`;

export function parseStateId(id: string):
  | {
      at: number;
      dropped: number[];
      torn?: { entry: number; sectors: number };
      misdirect?: Misdirect;
    }
  | undefined {
  const t = /^(\d+)\^(\d+):(\d+)$/.exec(id);
  if (t)
    return { at: Number(t[1]), dropped: [], torn: { entry: Number(t[2]), sectors: Number(t[3]) } };
  const d = /^(\d+)@(\d+):(\d+)$/.exec(id);
  if (d)
    return {
      at: Number(d[1]),
      dropped: [],
      misdirect: { entry: Number(d[2]), sector: Number(d[3]) },
    };
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
  options: {
    maxStates: number;
    seed: number;
    from?: number;
    /** Where the store lies: `misdirect:N` needs it (and throws without it). */
    misdirect?: MisdirectSpace & { sectorSize: number };
    /**
     * `tear:N` tears only writes that touch these device ranges (512-byte sectors: the store
     * file's), not the filesystem's own metadata. Without it, every write of several sectors.
     */
    tearWithin?: { ranges: readonly SectorRange[]; sectorSize: number };
  },
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
  if (mode.kind === 'tear') {
    const within = options.tearWithin;
    const tearable = within
      ? (e: LogEntry) => touchesRanges(e, within.ranges, within.sectorSize)
      : () => true;
    return tearStates(entries.slice(from), mode.n, barrierStates, { ...options, tearable });
  }
  if (mode.kind === 'misdirect') {
    if (!options.misdirect) throw new Error('misdirect:N needs the store extents');
    return misdirectStates(entries, from, mode.n, barrierStates, {
      ...options,
      space: options.misdirect,
    });
  }
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
  options: { maxStates: number; seed: number; tearable: (e: LogEntry) => boolean },
): { states: CrashState[]; sampledFrom?: number } {
  const torn: CrashState[] = [];
  for (const group of unflushedGroups(entries)) {
    for (const e of group) {
      if (e.discard || e.nrSectors < 2 || !options.tearable(e)) continue;
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
  const kept = seededKeep(torn, options.maxStates - barrierStates.length, options.seed);
  return {
    states: [...barrierStates, ...kept].sort(
      (a, b) => a.at - b.at || (a.torn?.sectors ?? 0) - (b.torn?.sectors ?? 0),
    ),
    ...(kept.length < torn.length ? { sampledFrom: barrierStates.length + torn.length } : {}),
  };
}

/**
 * Misdirected-write states: each write that lies wholly inside the store, put at n other
 * page-aligned places of the store (drawn from the seed; fewer where the store has fewer),
 * with every entry up to the first flush after it on disk: the device called it durable there.
 */
function misdirectStates(
  entries: readonly LogEntry[],
  from: number,
  n: number,
  barrierStates: CrashState[],
  options: { maxStates: number; seed: number; space: MisdirectSpace & { sectorSize: number } },
): { states: CrashState[]; sampledFrom?: number } {
  const { space } = options;
  const random = mulberry32(options.seed);
  const misdirected: CrashState[] = [];
  let nextFlush = entries.length;
  const barrierAfter: number[] = new Array<number>(entries.length);
  for (let i = entries.length - 1; i >= 0; i--) {
    barrierAfter[i] = entries[i]!.fua ? i + 1 : nextFlush;
    if (entries[i]!.flush) nextFlush = i + 1;
  }
  for (const e of entries.slice(from)) {
    if (!writesData(e) || e.discard) continue;
    const targets = misdirectTargets(e, space, n, random);
    const at = extendCut(entries, barrierAfter[e.index]!);
    for (const sector of targets) {
      const misdirect = { entry: e.index, sector };
      misdirected.push({
        id: stateId(at, [], undefined, misdirect),
        at,
        dropped: [],
        misdirect,
        boundary: 'misdirect',
      });
    }
  }
  const kept = seededKeep(misdirected, options.maxStates - barrierStates.length, options.seed);
  return {
    states: [...barrierStates, ...kept].sort(
      (a, b) =>
        a.at - b.at ||
        (a.misdirect?.entry ?? -1) - (b.misdirect?.entry ?? -1) ||
        (a.misdirect?.sector ?? -1) - (b.misdirect?.sector ?? -1),
    ),
    ...(kept.length < misdirected.length
      ? { sampledFrom: barrierStates.length + misdirected.length }
      : {}),
  };
}

/**
 * Up to n distinct log sectors a write may be misdirected to: where the same number of bytes
 * starts at a page boundary of the store file, lies in one extent (contiguous on the device)
 * and in the part of the file the engine uses,
 * at a log-sector boundary, and does not overlap the write's own place. None for a write that
 * is not wholly inside the store.
 */
export function misdirectTargets(
  e: Pick<LogEntry, 'sector' | 'nrSectors'>,
  space: MisdirectSpace & { sectorSize: number },
  n: number,
  random: () => number,
): number[] {
  const unit = 512;
  const bytes = e.nrSectors * space.sectorSize;
  const first = (e.sector * space.sectorSize) / unit;
  const end = first + bytes / unit;
  const inside = space.extents.reduce(
    (sum, x) => sum + Math.max(0, Math.min(end, x.start + x.sectors) - Math.max(first, x.start)),
    0,
  );
  if (bytes === 0 || inside !== end - first) return [];
  // Every aligned start, extent by extent, as a count: drawn by index, not listed.
  const runs: { start: number; count: number; step: number }[] = [];
  const step = lcm(space.alignBytes, space.sectorSize) / unit;
  for (const x of space.extents) {
    const lo = Math.ceil(x.fileSector / step) * step;
    // A step keeps the device offset's alignment: if the first place is off a log sector, all are.
    if (((x.start + lo - x.fileSector) * unit) % space.sectorSize !== 0) continue;
    const last = Math.min(x.fileSector + x.sectors, space.fileBytes / unit) - bytes / unit;
    if (lo > last) continue;
    runs.push({
      start: x.start + lo - x.fileSector,
      count: Math.floor((last - lo) / step) + 1,
      step,
    });
  }
  const total = runs.reduce((sum, r) => sum + r.count, 0);
  const chosen = new Set<number>();
  for (let tries = 0; chosen.size < n && tries < n * 20 && total > 0; tries++) {
    let pick = Math.floor(random() * total);
    const run = runs.find((r) => (pick -= r.count) < 0)!;
    const start = run.start + (pick + run.count) * run.step;
    if (start < end && first < start + bytes / unit) continue; // onto itself: not misdirected
    chosen.add((start * unit) / space.sectorSize);
  }
  return [...chosen].sort((a, b) => a - b);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

/** At most `room` of `states`, a seeded sample when there are more. */
function seededKeep(states: CrashState[], room: number, seed: number): CrashState[] {
  if (states.length <= Math.max(0, room)) return states;
  const random = mulberry32(seed);
  const pool = [...states];
  for (let i = 0; i < room; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, Math.max(0, room));
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
