import type { DumpEntry } from '../model/history.ts';
import type { EngineContext, EngineOptions } from './engine.ts';
import {
  type DataPage,
  encodePageInto,
  encodeValue,
  PageKind,
  readDataPage,
} from './page-format.ts';
import {
  type PageImage,
  pageImageOf,
  type PageReads,
  readFromFile,
  readFromImage,
} from './page-image.ts';
import { type PageWrite, pwriteAll } from './store-file.ts';

/**
 * Direct layout with two slots per logical page (ping-pong): page p lives at slots 2p and 2p+1.
 * A write goes to the slot that does NOT hold the page's newest durable version, so a write
 * torn by a power cut can never destroy an acknowledged value (an in-place overwrite would).
 * Readers take the valid slot with the highest sequence number.
 * Shared by plain, fsync and group-commit.
 */
export const directStoreSize = (options: EngineOptions): number =>
  options.pages * 2 * options.pageSize;

export const slotOffset = (page: number, slot: 0 | 1, pageSize: number): number =>
  (2 * page + slot) * pageSize;

/** The logical page whose slot holds byte `offset` of the store (slotOffset's inverse). */
export const pageAtOffset = (offset: number, pageSize: number): number =>
  Math.floor(offset / pageSize / 2);

/**
 * The bytes a direct-layout store starts with → each page's two on-disk slots, as views into
 * `bytes` (the checker only reads them; a copy of every slot per crash state cost more than
 * the check).
 */
export function rawPagesFromBytes(
  bytes: Uint8Array,
  pageSize: number,
  pages: number,
): Map<number, Uint8Array[]> {
  return rawPagesOf(pageImageOf(bytes, pageSize), pages);
}

/** Each page's two slots in a store image (the checker reads both for damage). */
export function rawPagesOf(image: PageImage, pages: number): Map<number, Uint8Array[]> {
  const raw = new Map<number, Uint8Array[]>();
  for (let p = 0; p < pages; p++) raw.set(p, [image.page(2 * p), image.page(2 * p + 1)]);
  return raw;
}

/** Reads one slot as `readDataPage` does (a caller may pass a memo of it). */
export type SlotReader = (bytes: Uint8Array, page: number, verify: boolean) => DataPage;

type Version = { slot: 0 | 1; seq: bigint; value: string } | { slot: 0 | 1; error: string };

export class PingPongPages {
  /** Slot holding each page's newest version known durable (synced, or found at open). */
  private readonly durableSlot = new Map<number, 0 | 1>();
  private seq: bigint;
  private scratch: Uint8Array | undefined;

  private constructor(
    private readonly ctx: EngineContext,
    startSeq: bigint,
  ) {
    this.seq = startSeq;
  }

  /** Opens the store: learns each page's newest slot and the highest sequence number. */
  static async open(ctx: EngineContext): Promise<PingPongPages> {
    let maxSeq = 0n;
    const newest = new Map<number, 0 | 1>();
    const versions = await readFromFile(
      everyNewest(ctx.options.pages),
      ctx.file,
      ctx.options.pageSize,
    );
    versions.forEach((v, page) => {
      if (v && 'seq' in v) {
        newest.set(page, v.slot);
        if (v.seq > maxSeq) maxSeq = v.seq;
      }
    });
    const pages = new PingPongPages(ctx, maxSeq);
    for (const [page, slot] of newest) pages.durableSlot.set(page, slot);
    return pages;
  }

  /** Writes `value` to the slot not holding the durable version; returns the slot written. */
  async write(page: number, value: string): Promise<0 | 1> {
    const { slot, buf, offset } = this.encode(page, value);
    await this.ctx.file.pwrite(buf, offset);
    return slot;
  }

  /**
   * Writes each page's value (one value per page), all as one request; resolves with the slot
   * each page was written to once every write has landed, or rejects with the first failure.
   */
  async writeMany(values: ReadonlyMap<number, string>): Promise<Map<number, 0 | 1>> {
    const { file, options } = this.ctx;
    const scratch = this.takeScratch(options.pageSize * values.size);
    const block = scratch.subarray(0, options.pageSize * values.size);
    const slots = new Map<number, 0 | 1>();
    const writes: PageWrite[] = [];
    for (const [page, value] of values) {
      const at = writes.length * options.pageSize;
      const { slot, buf, offset } = this.encode(
        page,
        value,
        block.subarray(at, at + options.pageSize),
      );
      slots.set(page, slot);
      writes.push({ buf, offset });
    }
    try {
      await pwriteAll(file, writes);
    } finally {
      this.scratch = scratch; // every write has landed or failed: the block is free again
    }
    return slots;
  }

  /**
   * A block for one batch's pages (every byte of each is encoded anew): the last batch's when it
   * is large enough and no batch is being written from it. A fresh one per batch (256 KiB at 64
   * pages) cost page faults on first touch and GC of external memory: encoding took 11-13 µs a
   * page instead of ~7 in a group-commit run.
   */
  private takeScratch(length: number): Uint8Array {
    const free = this.scratch;
    this.scratch = undefined;
    return free && free.length >= length ? free : this.ctx.file.alloc(length);
  }

  private encode(
    page: number,
    value: string,
    out = this.ctx.file.alloc(this.ctx.options.pageSize),
  ): { slot: 0 | 1; buf: Uint8Array; offset: number } {
    const slot: 0 | 1 = this.durableSlot.get(page) === 0 ? 1 : 0;
    this.seq++;
    const buf = encodePageInto(
      out,
      { kind: PageKind.data, page, seq: this.seq, length: 0 },
      encodeValue(value),
    );
    return { slot, buf, offset: slotOffset(page, slot, this.ctx.options.pageSize) };
  }

  /** After a successful fdatasync: the written slot now holds the durable version. */
  synced(page: number, slot: 0 | 1): void {
    this.durableSlot.set(page, slot);
  }
}

/**
 * What every direct-layout mode is, beside its `run`: the store's size, its recovery and dump
 * (from a file, or from raw slots in memory). Spread into plain, fsync and group-commit.
 */
export const directLayoutStore = {
  directLayout: true,
  storeSize: directStoreSize,
  recover: recoverDirect,
  dump: dumpDirect,
  dumpImage: dumpDirectImage,
} as const;

/** Recover for direct-layout engines: the store must exist, be readable and hold every page. */
export async function recoverDirect(ctx: EngineContext): Promise<void> {
  const need = directStoreSize(ctx.options);
  if (ctx.file.size() < need) throw new Error(tooSmall(ctx.file.size(), ctx.options));
  await ctx.file.pread(ctx.options.pageSize, 0);
}

const tooSmall = (size: number, options: EngineOptions): string =>
  `store is ${size} bytes, smaller than ${options.pages} pages × 2 slots (${directStoreSize(options)} bytes)`;

/** One entry per logical page: the newest valid version, null (never written) or an error. */
export async function dumpDirect(ctx: EngineContext): Promise<DumpEntry[]> {
  return readFromFile(dumpReads(ctx.options), ctx.file, ctx.options.pageSize);
}

/**
 * What `recoverDirect` then `dumpDirect` return for a store image in memory (recovery here only
 * reads). Its reads go through the image, which may memoize them by buffer.
 */
export function dumpDirectImage(image: PageImage, options: EngineOptions): DumpEntry[] {
  const need = directStoreSize(options);
  if (image.count * options.pageSize < need)
    throw new Error(tooSmall(image.count * options.pageSize, options));
  return readFromImage(dumpReads(options, image.readData), image);
}

function* dumpReads(
  options: EngineOptions,
  read: SlotReader = readDataPage,
): PageReads<DumpEntry[]> {
  const verify = options.bug !== 'no-checksum';
  const entries: DumpEntry[] = [];
  for (let page = 0; page < options.pages; page++)
    entries.push(dumpEntry(page, yield* newestReads(page, verify, read)));
  return entries;
}

function dumpEntry(page: number, v: Version | null): DumpEntry {
  return !v
    ? { page, value: null }
    : 'error' in v
      ? { page, error: v.error }
      : { page, value: v.value };
}

/**
 * The newest version of a page across its two slots. With `verify` (always, but for the planted
 * `no-checksum` bug), only slots whose checksum verifies count; if neither verifies but one
 * holds something, the page is reported corrupt.
 */
function newestOf(
  slots: readonly Uint8Array[],
  page: number,
  verify: boolean,
  read: SlotReader = readDataPage,
): Version | null {
  let best: Version | null = null;
  let damaged: Version | null = null;
  for (const slot of [0, 1] as const) {
    const d = read(slots[slot]!, page, verify);
    if (d.state === 'empty') continue;
    const v: Version =
      d.state === 'error' ? { slot, error: d.error } : { slot, seq: d.seq, value: d.value };
    if ('error' in v) damaged = v;
    else if (!best || !('seq' in best) || v.seq > best.seq) best = v;
  }
  return best ?? damaged;
}

/** Every page's newest verified version, in page order (one walk of the store). */
function* everyNewest(pages: number): PageReads<(Version | null)[]> {
  const versions: (Version | null)[] = [];
  for (let page = 0; page < pages; page++) versions.push(yield* newestReads(page, true));
  return versions;
}

/** The newest version of a page, read from its two slots (pages 2p and 2p+1). */
function* newestReads(
  page: number,
  verify: boolean,
  read: SlotReader = readDataPage,
): PageReads<Version | null> {
  const slots = [yield 2 * page, yield 2 * page + 1];
  return newestOf(slots, page, verify, read);
}
