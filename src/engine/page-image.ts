import { type DataPage, type DecodedPage, decodePage, readDataPage } from './page-format.ts';
import type { StoreFile } from './store-file.ts';

/**
 * A store image in memory, as physical pages of the engine's page size, with reads that may be
 * memoized by buffer: the simulated tier checks thousands of crash images a second that share
 * most of their pages, and a page unchanged between two images is the same buffer in both.
 * @example dumpImage(pageImageOf(bytes, 4096), options)
 */
export type PageImage = {
  /** Whole pages the store holds. */
  readonly count: number;
  /** Physical page i; beyond the end, an empty buffer (what pread returns there). */
  page(i: number): Uint8Array;
  /** `decodePage`, possibly memoized by buffer. */
  decode(bytes: Uint8Array): DecodedPage;
  /** `readDataPage`, possibly memoized by buffer (a buffer is always read as one page). */
  readData(bytes: Uint8Array, page: number, verify: boolean): DataPage;
};

/** One page's bytes and, once asked, what they decode to and read as (the bytes never change). */
export type PageMemo = {
  bytes: Uint8Array;
  decoded?: DecodedPage;
  read?: { page: number; verify: boolean; as: DataPage };
};

/**
 * `decode` and `readData` memoized on each buffer's memo (`memoOf`): a page shared by many
 * images is decoded once. A buffer without a memo is read afresh.
 */
export function memoizedReads(
  memoOf: (bytes: Uint8Array) => PageMemo | undefined,
): Pick<PageImage, 'decode' | 'readData'> {
  const decode = (bytes: Uint8Array): DecodedPage => {
    const memo = memoOf(bytes);
    return memo ? (memo.decoded ??= decodePage(bytes)) : decodePage(bytes);
  };
  const readData = (bytes: Uint8Array, page: number, verify: boolean): DataPage => {
    const memo = memoOf(bytes);
    if (!memo) return readDataPage(bytes, page, verify, decode);
    if (memo.read?.page === page && memo.read.verify === verify) return memo.read.as;
    const as = readDataPage(bytes, page, verify, decode);
    memo.read = { page, verify, as };
    return as;
  };
  return { decode, readData };
}

/** Views of `bytes` as pages, read without a memo. */
export function pageImageOf(bytes: Uint8Array, pageSize: number): PageImage {
  const count = Math.floor(bytes.length / pageSize);
  return {
    count,
    page: (i) => (i < count ? bytes.subarray(i * pageSize, (i + 1) * pageSize) : new Uint8Array(0)),
    decode: decodePage,
    readData: (b, page, verify) => readDataPage(b, page, verify),
  };
}

/**
 * A recovery or dump written once for both a file and an image in memory: it yields the
 * physical page it needs next and is sent that page's bytes.
 */
export type PageReads<T> = Generator<number, T, Uint8Array>;

/**
 * Runs `reads` against a store file. A read that continues where the last one ended takes twice
 * as many pages at once (up to 64): a recovery or dump walks the store in order, and in a guest
 * under TCG each pread, a trip through the libuv pool, cost more than the page it read. A jump
 * reads one page, as before.
 */
export async function readFromFile<T>(
  reads: PageReads<T>,
  file: StoreFile,
  pageSize: number,
): Promise<T> {
  let chunk: Uint8Array = new Uint8Array(0);
  let first = 0;
  let span = 0;
  const page = async (i: number): Promise<Uint8Array> => {
    const held = Math.ceil(chunk.length / pageSize);
    if (i < first || i >= first + held) {
      span = span > 0 && i === first + span ? Math.min(span * 2, maxReadAheadPages) : 1;
      chunk = await file.pread(span * pageSize, i * pageSize);
      first = i;
    }
    const at = (i - first) * pageSize;
    return chunk.subarray(at, at + pageSize);
  };
  let next = reads.next();
  while (!next.done) next = reads.next(await page(next.value));
  return next.value;
}

const maxReadAheadPages = 64;

/** Runs `reads` against an image in memory. */
export function readFromImage<T>(reads: PageReads<T>, image: PageImage): T {
  let next = reads.next();
  while (!next.done) next = reads.next(image.page(next.value));
  return next.value;
}
