import { crc32c } from '../engine/crc32c.ts';
import {
  type DataPage,
  type DecodedPage,
  decodePage,
  readDataPage,
} from '../engine/page-format.ts';
import type { PageImage } from '../engine/page-image.ts';
import { Slab } from '../sim/slab.ts';

/** One distinct page: its bytes (a copy of its own), and once asked, what they decode to. */
type Slot = {
  id: number;
  bytes: Uint8Array;
  decoded?: DecodedPage;
  read?: { page: number; verify: boolean; as: DataPage };
};

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
    const decode = (b: Uint8Array): DecodedPage => {
      const slot = this.slotOf.get(b);
      return slot ? (slot.decoded ??= decodePage(b)) : decodePage(b);
    };
    const image: PageImage = {
      count,
      page: (i) => (i < count ? slots[i]!.bytes : new Uint8Array(0)),
      decode,
      readData: (b, page, verify) => {
        const slot = this.slotOf.get(b);
        if (!slot) return readDataPage(b, page, verify, decode);
        if (slot.read?.page === page && slot.read.verify === verify) return slot.read.as;
        const as = readDataPage(b, page, verify, decode);
        slot.read = { page, verify, as };
        return as;
      },
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
