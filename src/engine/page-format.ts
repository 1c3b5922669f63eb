import { lazyNative } from '../native/loader.ts';
import { crc32c, crc32cZeroingField } from './crc32c.ts';
import { isAllZero } from './zero-bytes.ts';

/**
 * One page format for every built-in engine (little-endian):
 *
 *   0  magic   u32  "PCUT"
 *   4  kind    u32  1 data, 2 meta, 3 map
 *   8  page    u32  logical page number (meta: slot number)
 *  12  length  u32  payload length in bytes
 *  16  seq     u64  write sequence (data) or transaction id (meta, map, cow data)
 *  24  crc     u32  CRC32C of the whole page with this field zeroed
 *  28  unused  u32
 *  32  payload, then a fill derived from the payload up to the page end
 *
 * The fill makes every 512-byte sector of a page differ between two writes, so a write torn at
 * a sector boundary always changes the checksummed bytes and is detectable.
 */
export const PAGE_MAGIC = 0x54554350; // "PCUT" read as little-endian u32
export const HEADER_SIZE = 32;
export const SECTOR_SIZE = 512;

export const PageKind = { data: 1, meta: 2, map: 3 } as const;
export type PageKindName = keyof typeof PageKind;

export type PageHeader = {
  kind: number;
  page: number;
  seq: bigint;
  length: number;
};

export type DecodedPage =
  | { state: 'empty' }
  | { state: 'ok'; header: PageHeader; payload: Uint8Array }
  | { state: 'corrupt'; reason: 'magic' | 'checksum' | 'length' };

/** Writes header + payload + fill into `out` (a page-sized, possibly aligned buffer). */
export function encodePageInto(
  out: Uint8Array,
  header: PageHeader,
  payload: Uint8Array,
): Uint8Array {
  if (HEADER_SIZE + payload.length > out.length) {
    throw new RangeError(
      `payload of ${payload.length} bytes does not fit a ${out.length}-byte page`,
    );
  }
  const native = nativeEncode();
  if (native && header.page >= 0 && header.page <= 0xffffffff) {
    native(out, header.kind, header.page, header.seq, payload);
    return out;
  }
  return encodePageIntoJs(out, header, payload);
}

/**
 * The format's reference encoder (and the fallback where the addon or the CPU's crc32 is
 * missing; a test holds the addon's `encodePage` equal to it).
 */
export function encodePageIntoJs(
  out: Uint8Array,
  header: PageHeader,
  payload: Uint8Array,
): Uint8Array {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, PAGE_MAGIC, true);
  view.setUint32(4, header.kind, true);
  view.setUint32(8, header.page, true);
  view.setUint32(12, payload.length, true);
  view.setBigUint64(16, header.seq, true);
  view.setUint32(24, 0, true);
  view.setUint32(28, 0, true);
  out.set(payload, HEADER_SIZE);
  fill(out, HEADER_SIZE + payload.length, header, payload);
  view.setUint32(24, crc32c(out), true);
  return out;
}

/** The addon's encoder (~3 µs a 4 KiB page against ~5.4 in JS). */
const nativeEncode = lazyNative('encodePage');

/** Which encoder this process uses. */
export const encodeImplementation = (): 'native' | 'js' => (nativeEncode() ? 'native' : 'js');

export function encodePage(pageSize: number, header: PageHeader, payload: Uint8Array): Uint8Array {
  return encodePageInto(new Uint8Array(pageSize), header, payload);
}

/** Decodes and verifies a page. An all-zero page is `empty` (never written). */
export function decodePage(bytes: Uint8Array): DecodedPage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== PAGE_MAGIC) {
    return isAllZero(bytes) ? { state: 'empty' } : { state: 'corrupt', reason: 'magic' };
  }
  const stored = view.getUint32(24, true);
  if (crc32cZeroingField(bytes, 24) !== stored) return { state: 'corrupt', reason: 'checksum' };
  const length = view.getUint32(12, true);
  if (HEADER_SIZE + length > bytes.length) return { state: 'corrupt', reason: 'length' };
  return {
    state: 'ok',
    header: {
      kind: view.getUint32(4, true),
      page: view.getUint32(8, true),
      seq: view.getBigUint64(16, true),
      length,
    },
    payload: bytes.subarray(HEADER_SIZE, HEADER_SIZE + length),
  };
}

/**
 * Reads the header fields without verifying anything: what an engine that skips its checksum
 * would believe (used by planted-bug variants and by diagnostics).
 */
export function readHeaderUnchecked(
  bytes: Uint8Array,
): { header: PageHeader; payload: Uint8Array } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== PAGE_MAGIC) return null;
  const length = Math.min(view.getUint32(12, true), bytes.length - HEADER_SIZE);
  return {
    header: {
      kind: view.getUint32(4, true),
      page: view.getUint32(8, true),
      seq: view.getBigUint64(16, true),
      length,
    },
    payload: bytes.subarray(HEADER_SIZE, HEADER_SIZE + length),
  };
}

function fill(out: Uint8Array, from: number, header: PageHeader, payload: Uint8Array): void {
  // xorshift32 seeded by the header and payload checksum: cheap, deterministic, differs per write.
  const seed =
    (crc32c(payload) ^ Number(header.seq & 0xffffffffn) ^ (header.page * 0x9e3779b1)) >>> 0 || 1;
  const native = nativeFill();
  if (native) native(out, from, seed);
  else fillXorshiftJs(out, from, seed);
}

/** The addon's loop (lanes: a third of the JS loop's time). */
const nativeFill = lazyNative('fillXorshift');

/**
 * The fill's reference loop (and the fallback where the addon is missing; a test holds the
 * addon's equal to it): from `from` to the end, xorshift32 steps from `seed`, each written as a
 * little-endian u32, the last partial word as that step's low bytes. Each step fills four bytes
 * (one step per byte cost ~10 µs a page, more than its checksum).
 */
export function fillXorshiftJs(out: Uint8Array, from: number, seed: number): void {
  let x = seed;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const end = out.length;
  let i = from;
  for (; i < end; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (i + 4 > end) break;
    view.setUint32(i, x, true);
  }
  for (let k = 0; i < end; i++, k += 8) out[i] = x >>> k; // the last partial word
}

/** Which fill this process uses. */
export const fillImplementation = (): 'native' | 'js' => (nativeFill() ? 'native' : 'js');

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: false });
export const encodeValue = (value: string): Uint8Array => utf8.encode(value);
export const decodeValue = (payload: Uint8Array): string => utf8d.decode(payload);

export type DataPage =
  | { state: 'empty' }
  | { state: 'value'; seq: bigint; value: string }
  | { state: 'error'; error: 'checksum' | 'misdirected' };

/**
 * Reads a data page holding logical page `page`. `verify: false` is the planted `no-checksum`
 * bug: the header is believed without checking the CRC.
 * @example readDataPage(encodePage(4096, { kind: PageKind.data, page: 3, seq: 1n, length: 0 }, encodeValue('w1')), 3, true)
 */
export function readDataPage(
  bytes: Uint8Array,
  page: number,
  verify: boolean,
  /** How to decode and verify the bytes (a caller reading one buffer many times may memoize). */
  decode: (bytes: Uint8Array) => DecodedPage = decodePage,
): DataPage {
  if (!verify) {
    const h = readHeaderUnchecked(bytes);
    if (!h) return isAllZero(bytes) ? { state: 'empty' } : { state: 'error', error: 'checksum' };
    return { state: 'value', seq: h.header.seq, value: decodeValue(h.payload) };
  }
  const d = decode(bytes);
  if (d.state === 'empty') return { state: 'empty' };
  if (d.state === 'corrupt') return { state: 'error', error: 'checksum' };
  if (d.header.kind !== PageKind.data || d.header.page !== page)
    return { state: 'error', error: 'misdirected' };
  return { state: 'value', seq: d.header.seq, value: decodeValue(d.payload) };
}
