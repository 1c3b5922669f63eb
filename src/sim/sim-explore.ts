import { crc32c } from '../engine/crc32c.ts';
import { virtualClock } from '../engine/clock.ts';
import type { History, HistoryEvent } from '../model/history.ts';
import { HistoryIndex } from '../oracles/history-index.ts';
import { mulberry32 } from './prng.ts';
import { PageReader } from './page-reader.ts';
import { rawPagesOf } from '../engine/direct-layout.ts';
import { type CrashPoint, type DrawnState, SimDevice } from './sim-device.ts';
import {
  nemesisEvent,
  iterate,
  judgeState,
  recoverAndCheck,
  type SimCrashState,
  type SimTrialInput,
  withFault,
  wrapIo,
} from './sim-trial.ts';

export type SimExploreInput = Omit<SimTrialInput, 'cutAtIo' | 'crashStates'> & {
  /**
   * Distinct crash states wanted per cut point: draws go on until that many new images were
   * checked at the point, every image it can leave was drawn, or 4× that many draws were made.
   */
  statesPerCut: number;
};

export type SimExploredState = SimCrashState & {
  /** The power was cut before this I/O call (0-based; the run's I/O count: after the last). */
  cutAtIo: number;
  /** The state's whole image, built on demand (drawn again from its cut and survivor set). */
  image: () => Uint8Array;
};

export type SimExploreResult = {
  states: SimExploredState[];
  /** Draws that repeated a state already checked (same image, same history). */
  duplicates: number;
  /** Cut points explored: one before every I/O call, and one after the last. */
  cutPoints: number;
  ioCount: number;
};

export type Cut = { point: CrashPoint; events: number; io: number };

/**
 * Systematic exploration of one run: the engine runs the workload once, uncut, and the device
 * is frozen before every I/O call (a CrashPoint copies nothing); a power cut at that moment
 * leaves the durable image plus any subset of the pending writes, judged against the history
 * as it was then. The run's prefix up to any cut is what a run cut there would have done (the
 * engine is deterministic on the virtual clock), so one run stands for every cut point, where
 * `runSimTrial` runs the engine once per cut.
 *
 * A crash state is an image and a history: two cuts with no event between them share their
 * history, and a state they both leave is checked once (the rest are `duplicates`).
 */
export async function exploreSimRun(input: SimExploreInput): Promise<SimExploreResult> {
  const { mode, options } = input;
  const { cuts, events, ioCount } = await recordCuts(input);
  const states: SimExploredState[] = [];
  let duplicates = 0;
  const draw = { tear: input.tear ?? false, corrupt: input.corrupt ?? false };
  // Engines that can are recovered in memory, page by page (see PageReader).
  const scratch = new Scratch();
  const reader = mode.dumpImage
    ? new PageReader(options.pageSize, mode.storeSize(options))
    : undefined;
  for (const group of byHistory(cuts)) {
    const prefix = events.slice(0, group[0]!.events);
    const history: History = {
      ops: input.ops,
      events: [...prefix, nemesisEvent(prefix, 'crash')],
    };
    const index = new HistoryIndex(history);
    // Every image this group's cuts leave equals the first cut's durable image outside the
    // ranges their pending writes cover: those bytes alone tell two of its states apart.
    const differing = mergeRanges(group.flatMap((c) => c.point.pendingRanges().ranges));
    const seen = new SeenStates(differing);
    for (const { point, io } of group) {
      const want = Math.min(input.statesPerCut, point.distinctStatesBound(draw));
      const cut = { units: point.units(draw.tear), writes: point.pendingCount, tear: draw.tear };
      let found = 0;
      for (let i = 0; found < want && i < input.statesPerCut * 4; i++) {
        const seed = (input.seed * 7919 + io * 104729 + i) >>> 0;
        // The draw is a recipe: run again, it gives the same state (for `image`, and for
        // SeenStates), so each state's overlay is only scratch memory, reused by the next draw.
        const redraw = (into?: Uint8Array): DrawnState =>
          draw.corrupt
            ? point.draw({ seed, ...draw }, into)
            : point.drawKept(draw.tear, survivors(cut, want, i, seed), into);
        const drawn = redraw(scratch.sized(point.pendingRanges().bytes));
        if (!seen.add(point, drawn, redraw)) {
          duplicates++;
          continue;
        }
        found++;
        let state: SimCrashState;
        if (reader && mode.dumpImage) {
          const image = reader.image(point, drawn);
          const dump = mode.dumpImage;
          state = await judgeState(
            mode,
            options,
            index,
            seed,
            mode.directLayout ? rawPagesOf(image, options.pages) : undefined,
            () => dump(image, options),
            (bytes) => image.decode(bytes),
          );
        } else state = await recoverAndCheck(mode, options, point.source(drawn), index, seed);
        // Fields set one by one: spreading the state cost as much as its check's durability part.
        const explored: SimExploredState = {
          seed: state.seed,
          history: state.history,
          dump: state.dump,
          verdict: state.verdict,
          cutAtIo: io,
          image: () => point.imageOf(redraw()),
        };
        if (state.recoverError !== undefined) explored.recoverError = state.recoverError;
        states.push(explored);
      }
    }
  }
  return { states, duplicates, cutPoints: cuts.length, ioCount };
}

/**
 * Runs the workload once, uncut, and freezes the device before every I/O call and after the
 * last: each cut's CrashPoint, the number of events emitted before it, and its I/O index.
 */
export async function recordCuts(
  input: Pick<SimTrialInput, 'mode' | 'options' | 'ops' | 'fault' | 'direct'>,
): Promise<{ cuts: Cut[]; events: HistoryEvent[]; ioCount: number }> {
  const { mode, options } = input;
  const device = new SimDevice({ size: mode.storeSize(options) });
  const events: HistoryEvent[] = [];
  const cuts: Cut[] = [];
  const observed = wrapIo(device.file({ direct: input.direct ?? false }), (io) =>
    cuts.push({ point: device.crashPoint(), events: events.length, io }),
  );
  const file = withFault(device, observed, input.fault, events);
  await mode.run({ file, clock: virtualClock(), options }, iterate(input.ops), (e) => {
    events.push(e);
  });
  cuts.push({ point: device.crashPoint(), events: events.length, io: device.ioCount });
  const { ioCount } = device;
  device.release();
  return { cuts, events, ioCount };
}

/**
 * The i-th survivor set tried at a cut with `units` independent units (see CrashPoint.units)
 * in `writes` pending writes: every set in turn when there are no more than `want`; else all
 * lost, all kept, then random ones where each write is kept, lost or (with `tear`) torn, a
 * third each (a lone write is always torn: whole or lost, it would repeat the first two).
 * Chosen rather than drawn with fixed odds: a plain draw repeats "all lost" and "all kept" most
 * of the time, and a set choosing every sector alone would tear nearly every write.
 */
function survivors(
  cut: { units: number; writes: number; tear: boolean },
  want: number,
  i: number,
  seed: number,
): (write: number, sector: number) => boolean {
  let unit = 0;
  if (2 ** cut.units <= want) return () => ((i >> unit++) & 1) === 1;
  if (i === 0) return () => false;
  if (i === 1) return () => true;
  const random = mulberry32(seed);
  const lone = cut.writes === 1 && cut.tear;
  let current = -1;
  let fate: 'kept' | 'lost' | 'torn' = 'torn';
  return (write) => {
    if (write !== current) {
      current = write;
      const r = lone ? 2 : Math.floor(random() * (cut.tear ? 3 : 2));
      fate = r === 0 ? 'kept' : r === 1 ? 'lost' : 'torn';
    }
    return fate === 'kept' || (fate === 'torn' && random() < 0.5);
  };
}

/**
 * The states of one group checked so far, by the bytes in which its images can differ: keyed by
 * their CRC32C, computed over views (no copy), and told apart by comparing bytes on a match.
 */
class SeenStates {
  private readonly byCrc = new Map<number, Seen[]>();
  /** Where a seen state is drawn again to be compared. */
  private readonly again = new Scratch();

  constructor(private readonly differing: readonly { start: number; end: number }[]) {}

  /**
   * Adds the state `drawn` (which `redraw` draws again, into a buffer or fresh memory); false if
   * a state with the same image was added before.
   */
  add(point: CrashPoint, drawn: DrawnState, redraw: (into?: Uint8Array) => DrawnState): boolean {
    let crc = 0;
    for (const r of this.differing)
      point.visit(drawn, r.start, r.end, (bytes) => (crc = crc32c(bytes, crc)));
    const bucket = this.byCrc.get(crc);
    const seen: Seen = { point, redraw };
    if (!bucket) {
      this.byCrc.set(crc, [seen]);
      return true;
    }
    let mine: Uint8Array | undefined;
    for (const other of bucket) {
      if (other.point === point) {
        // Two draws at one cut differ only in that cut's pending ranges: their overlays.
        const again = other.redraw(this.again.sized(point.pendingRanges().bytes));
        if (Buffer.compare(again.overlay, drawn.overlay) === 0) return false;
        continue;
      }
      mine ??= this.bytes(point, drawn);
      other.bytes ??= this.bytes(other.point, other.redraw());
      if (Buffer.compare(other.bytes, mine) === 0) return false;
    }
    if (mine) seen.bytes = mine;
    bucket.push(seen);
    return true;
  }

  private bytes(point: CrashPoint, drawn: DrawnState): Uint8Array {
    const out = new Uint8Array(this.differing.reduce((n, r) => n + r.end - r.start, 0));
    let at = 0;
    for (const r of this.differing) {
      point.readInto(drawn, r.start, r.end, out, at);
      at += r.end - r.start;
    }
    return out;
  }
}

/** A state SeenStates holds: its recipe, and its differing bytes once they were built. */
type Seen = {
  point: CrashPoint;
  redraw: (into?: Uint8Array) => DrawnState;
  bytes?: Uint8Array;
};

/** A buffer reused from one use to the next, grown as needed. */
class Scratch {
  private buffer = new Uint8Array(0);

  /** The first `length` bytes of the buffer (what they held before is garbage). */
  sized(length: number): Uint8Array {
    if (this.buffer.length < length)
      this.buffer = new Uint8Array(Math.max(length, 2 * this.buffer.length));
    return this.buffer.subarray(0, length);
  }
}

/** Consecutive cuts with no history event between them. */
function byHistory(cuts: readonly Cut[]): Cut[][] {
  const groups: Cut[][] = [];
  for (const cut of cuts) {
    const last = groups.at(-1);
    if (last && last[0]!.events === cut.events) last.push(cut);
    else groups.push([cut]);
  }
  return groups;
}

function mergeRanges(
  ranges: readonly { start: number; end: number }[],
): { start: number; end: number }[] {
  const merged: { start: number; end: number }[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1);
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ start: r.start, end: r.end });
  }
  return merged;
}
