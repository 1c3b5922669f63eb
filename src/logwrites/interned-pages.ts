import { crc32c } from '../engine/crc32c.ts';
import { memoizedReads, type PageImage, type PageMemo } from '../engine/page-image.ts';
import { Slab } from '../sim/slab.ts';

/** One distinct page: its number among the kept ones, its own copy, and its memo. */
type Slot = PageMemo & { id: number };

/**
 * Store images kept page by page, each distinct page once (exact: bucketed by CRC32C, told
 * apart by comparing bytes). Crash states of one recording differ in a few pages, so a state
 * costs the pages it changed, not a copy of its store: ~1,000 states of a 128 KiB store had
 * spent most of the screen faulting in the 120 MB of their copies. Two images are the same
 * exactly when their page lists are (`key`), and a page shared by many states is decoded once.
 * @example const { key, image } = pages.intern(scratch); dumpDirectImage(image, options)
 */
export class InternedPages {
  private readonly buckets = new Map<number, Slot[]>();
  private readonly slotOf = new WeakMap<Uint8Array, Slot>();
  private readonly reads = memoizedReads((bytes) => this.slotOf.get(bytes));
  private count = 0;
  /** The pages' own copies, carved out of 1 MiB slabs (an ArrayBuffer per page cost more). */
  private readonly copies = new Slab();

  constructor(private readonly pageSize: number) {}

  /**
   * The image `bytes` holds now (a whole number of pages), as interned pages: `bytes` may be
   * changed afterwards (the image keeps its own copies).
   */
  intern(bytes: Uint8Array): { key: string; image: PageImage } {
    const { pageSize } = this;
    const count = Math.floor(bytes.length / pageSize);
    const slots: Slot[] = [];
    for (let i = 0; i < count; i++)
      slots.push(this.slot(bytes.subarray(i * pageSize, (i + 1) * pageSize)));
    const image: PageImage = {
      count,
      page: (i) => (i < count ? slots[i]!.bytes : new Uint8Array(0)),
      ...this.reads,
    };
    return { key: slots.map((s) => s.id).join(','), image };
  }

  /** How many distinct pages are kept. */
  get size(): number {
    return this.count;
  }

  private slot(page: Uint8Array): Slot {
    const crc = crc32c(page);
    let bucket = this.buckets.get(crc);
    const found = bucket?.find((s) => Buffer.compare(s.bytes, page) === 0);
    if (found) return found;
    const bytes = this.copies.carve(page.length);
    bytes.set(page);
    const slot: Slot = { id: this.count++, bytes };
    this.slotOf.set(slot.bytes, slot);
    if (!bucket) this.buckets.set(crc, (bucket = []));
    bucket.push(slot);
    return slot;
  }
}
