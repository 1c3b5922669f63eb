import { crc32c, crc32cZeroingField } from '../crc32c.ts';
import { isAllZero } from '../zero-bytes.ts';
import { PAGE_MAGIC } from '../page-format.ts';

/**
 * A slotted page (seed item 2; PostgreSQL's, InnoDB's and SQLite's pages work like this): many
 * variable-length records in one page, behind a slot directory that grows from the front while
 * the records grow from the end. Little-endian:
 *
 *   0  magic    u32  "PCUT"
 *   4  kind     u32  4 (slotted)
 *   8  page     u32  physical page number
 *  12  slots    u16  number of records
 *  14  free     u16  offset where the records start (the free space ends)
 *  16  lsn      u64  log sequence number of the write that produced this image
 *  24  crc      u32  CRC32C of the whole page with this field zeroed
 *  28  unused   u32
 *  32  slot directory: per record  key u16 | offset u16 | length u16
 *      ... free space (filled with bytes derived from the page, so a write torn at any sector
 *      boundary changes the checksummed bytes) ...
 *  free..end   records, the last slot's first
 *
 * The whole page is the unit of writing: an update is a read-modify-write of the page, so a
 * torn write can destroy every record on it, also ones acknowledged long ago.
 */
export const SLOTTED_KIND = 4;
export const SLOTTED_HEADER = 32;
const SLOT_SIZE = 6;

export type SlottedPage = { page: number; lsn: bigint; records: Map<number, string> };

export type DecodedSlotted =
  | { state: 'empty' }
  | { state: 'ok'; page: SlottedPage }
  | { state: 'corrupt'; reason: 'magic' | 'checksum' | 'layout' };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Bytes the records of `records` need in a page (slot entries included). */
export function slottedBytes(records: ReadonlyMap<number, string>): number {
  let n = SLOTTED_HEADER;
  for (const value of records.values()) n += SLOT_SIZE + utf8.encode(value).length;
  return n;
}

/** Encodes a page image into `out` (page-sized); throws RangeError if the records do not fit. */
export function encodeSlotted(out: Uint8Array, page: SlottedPage): Uint8Array {
  const size = out.length;
  if (slottedBytes(page.records) > size)
    throw new RangeError(`records of page ${page.page} do not fit a ${size}-byte page`);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const keys = [...page.records.keys()].sort((a, b) => a - b);
  let free = size;
  keys.forEach((key, i) => {
    const bytes = utf8.encode(page.records.get(key)!);
    free -= bytes.length;
    out.set(bytes, free);
    const slot = SLOTTED_HEADER + i * SLOT_SIZE;
    view.setUint16(slot, key, true);
    view.setUint16(slot + 2, free, true);
    view.setUint16(slot + 4, bytes.length, true);
  });
  view.setUint32(0, PAGE_MAGIC, true);
  view.setUint32(4, SLOTTED_KIND, true);
  view.setUint32(8, page.page, true);
  view.setUint16(12, keys.length, true);
  view.setUint16(14, free, true);
  view.setBigUint64(16, page.lsn, true);
  view.setUint32(24, 0, true);
  view.setUint32(28, 0, true);
  // xorshift32 over the free space, seeded by the page and its lsn: differs between writes.
  let x = (page.page * 0x9e3779b1) ^ Number(page.lsn & 0xffffffffn) || 1;
  for (let i = SLOTTED_HEADER + keys.length * SLOT_SIZE; i < free; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  view.setUint32(24, crc32c(out), true);
  return out;
}

/** Decodes and verifies a page image. All zero bytes: `empty` (never written). */
export function decodeSlotted(bytes: Uint8Array): DecodedSlotted {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== PAGE_MAGIC)
    return isAllZero(bytes) ? { state: 'empty' } : { state: 'corrupt', reason: 'magic' };
  const stored = view.getUint32(24, true);
  if (crc32cZeroingField(bytes, 24) !== stored) return { state: 'corrupt', reason: 'checksum' };
  if (view.getUint32(4, true) !== SLOTTED_KIND) return { state: 'corrupt', reason: 'layout' };
  const count = view.getUint16(12, true);
  const records = new Map<number, string>();
  for (let i = 0; i < count; i++) {
    const slot = SLOTTED_HEADER + i * SLOT_SIZE;
    const offset = view.getUint16(slot + 2, true);
    const length = view.getUint16(slot + 4, true);
    if (slot + SLOT_SIZE > bytes.length || offset + length > bytes.length)
      return { state: 'corrupt', reason: 'layout' };
    records.set(view.getUint16(slot, true), utf8d.decode(bytes.subarray(offset, offset + length)));
  }
  return {
    state: 'ok',
    page: { page: view.getUint32(8, true), lsn: view.getBigUint64(16, true), records },
  };
}
