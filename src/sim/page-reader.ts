import { memoizedReads, type PageImage, type PageMemo } from '../engine/page-image.ts';
import type { PagedImage } from './paged-image.ts';
import type { CrashPoint, DrawnState } from './sim-device.ts';

/**
 * The pages of crash states, read once: a page no pending write touched holds its cut's durable
 * bytes, and a page a sync did not write holds the previous durable image's, so it is the same
 * buffer, decoded once, in every state that has it. Only the pages a draw touched are new per
 * state (views of its overlay, no copy). One reader per run and page size.
 */
export class PageReader {
  private readonly byDurable = new WeakMap<PagedImage, PageMemo[]>();
  private readonly touchedBy = new WeakMap<CrashPoint, boolean[]>();
  /** Every slot handed out, by its buffer: how `decode` finds the memo of the bytes it is given. */
  private readonly slotOf = new WeakMap<Uint8Array, PageMemo>();
  private readonly reads = memoizedReads((bytes) => this.slotOf.get(bytes));
  private last: PageMemo[] | undefined;
  private readonly count: number;

  constructor(
    private readonly pageSize: number,
    storeSize: number,
  ) {
    this.count = Math.floor(storeSize / pageSize);
  }

  /** The image a draw leaves at a cut, page by page; its reads are memoized by buffer. */
  image(point: CrashPoint, drawn: DrawnState): PageImage {
    const { count, pageSize } = this;
    const base = this.base(point.durable);
    const touched = this.touched(point);
    const own: (Uint8Array | undefined)[] = [];
    const page = (i: number): Uint8Array => {
      if (i >= count) return new Uint8Array(0);
      if (!touched[i]) return base[i]!.bytes;
      let bytes = own[i];
      if (!bytes) {
        bytes = point.bytesOf(drawn, i * pageSize, (i + 1) * pageSize);
        own[i] = bytes;
        this.slotOf.set(bytes, { bytes });
      }
      return bytes;
    };
    return { count, page, ...this.reads };
  }

  /**
   * The durable image's pages; those equal to the previous image's are its memo objects (a
   * page a sync did not write is the very same buffer in the next version).
   */
  private base(durable: PagedImage): PageMemo[] {
    let base = this.byDurable.get(durable);
    if (base) return base;
    const { count, pageSize } = this;
    const previous = this.last;
    const samePages = durable.pageSize === pageSize;
    base = Array.from({ length: count }, (_, i) => {
      const bytes = samePages ? durable.page(i) : copyOf(durable, i * pageSize, pageSize);
      const before = previous?.[i];
      if (before && (before.bytes === bytes || Buffer.compare(before.bytes, bytes) === 0))
        return before;
      const slot = this.slotOf.get(bytes) ?? { bytes };
      this.slotOf.set(bytes, slot);
      return slot;
    });
    this.byDurable.set(durable, base);
    this.last = base;
    return base;
  }

  /** Which pages the point's pending writes touch (only those can differ from durable). */
  private touched(point: CrashPoint): boolean[] {
    let touched = this.touchedBy.get(point);
    if (touched) return touched;
    const { count, pageSize } = this;
    touched = new Array<boolean>(count).fill(false);
    for (const r of point.pendingRanges().ranges)
      for (let s = Math.floor(r.start / pageSize); s * pageSize < r.end && s < count; s++)
        touched[s] = true;
    this.touchedBy.set(point, touched);
    return touched;
  }
}

function copyOf(image: PagedImage, start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  image.readInto(start, Math.min(image.length, start + length), out, 0);
  return out;
}
