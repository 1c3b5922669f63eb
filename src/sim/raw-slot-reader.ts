import { slotOffset } from '../engine/direct-layout.ts';
import type { EngineOptions } from '../engine/engine.ts';
import {
  type DataPage,
  type DecodedPage,
  decodePage,
  readDataPage,
} from '../engine/page-format.ts';
import type { CrashPoint, DrawnState } from './sim-device.ts';

/** One slot's bytes and, once asked, what they decode to (bytes never change). */
type Slot = { bytes: Uint8Array; decoded?: DecodedPage; read?: DataPage };

/** A crash state's slots for `dumpRawPages` and the integrity check, and their memoized reads. */
export type RawSlots = {
  rawPages: Map<number, Uint8Array[]>;
  read: (bytes: Uint8Array, page: number, verify: boolean) => DataPage;
  decode: (bytes: Uint8Array, page: number) => DecodedPage;
};

/**
 * The slots of direct-layout crash states, read once: a slot no pending write touched holds its
 * cut's durable bytes, and a slot a sync did not write holds the previous durable image's, so
 * it is the same buffer, decoded once, in every state that has it. Only the slots a draw
 * touched are new per state (views of its overlay, no copy). One reader per run and options:
 * a slot is always read as one page, one way.
 */
export class RawSlotReader {
  private readonly byDurable = new WeakMap<Uint8Array, Slot[]>();
  private readonly touchedBy = new WeakMap<CrashPoint, boolean[]>();
  private last: Slot[] | undefined;

  constructor(private readonly options: Pick<EngineOptions, 'pages' | 'pageSize'>) {}

  slots(point: CrashPoint, drawn: DrawnState): RawSlots {
    const { pages, pageSize } = this.options;
    const base = this.base(point.durable);
    const touched = this.touched(point);
    const slots: Slot[] = new Array(2 * pages);
    const rawPages = new Map<number, Uint8Array[]>();
    for (let p = 0; p < pages; p++) {
      for (const s of [0, 1] as const) {
        const i = 2 * p + s;
        const at = slotOffset(p, s, pageSize);
        slots[i] = touched[i] ? { bytes: point.bytesOf(drawn, at, at + pageSize) } : base[i]!;
      }
      rawPages.set(p, [slots[2 * p]!.bytes, slots[2 * p + 1]!.bytes]);
    }
    const slotOf = (bytes: Uint8Array, page: number): Slot | undefined => {
      const a = slots[2 * page];
      if (a?.bytes === bytes) return a;
      const b = slots[2 * page + 1];
      return b?.bytes === bytes ? b : undefined;
    };
    const decode = (bytes: Uint8Array, page: number): DecodedPage => {
      const slot = slotOf(bytes, page);
      if (!slot) return decodePage(bytes);
      return (slot.decoded ??= decodePage(bytes));
    };
    const read = (bytes: Uint8Array, page: number, verify: boolean): DataPage => {
      const slot = slotOf(bytes, page);
      if (!slot) return readDataPage(bytes, page, verify);
      return (slot.read ??= readDataPage(bytes, page, verify, (b) => decode(b, page)));
    };
    return { rawPages, read, decode };
  }

  /** The durable image's slots; those equal to the previous image's are its Slot objects. */
  private base(durable: Uint8Array): Slot[] {
    let base = this.byDurable.get(durable);
    if (base) return base;
    const { pages, pageSize } = this.options;
    const previous = this.last;
    base = Array.from({ length: 2 * pages }, (_, i) => {
      const bytes = durable.subarray(i * pageSize, (i + 1) * pageSize);
      const before = previous?.[i];
      return before && Buffer.compare(before.bytes, bytes) === 0 ? before : { bytes };
    });
    this.byDurable.set(durable, base);
    this.last = base;
    return base;
  }

  /** Which slots the point's pending writes touch (only those can differ from durable). */
  private touched(point: CrashPoint): boolean[] {
    let touched = this.touchedBy.get(point);
    if (touched) return touched;
    const { pages, pageSize } = this.options;
    touched = new Array<boolean>(2 * pages).fill(false);
    for (const r of point.pendingRanges().ranges)
      for (let s = Math.floor(r.start / pageSize); s * pageSize < r.end && s < 2 * pages; s++)
        touched[s] = true;
    this.touchedBy.set(point, touched);
    return touched;
  }
}
