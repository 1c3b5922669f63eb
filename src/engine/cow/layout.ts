import type { EngineOptions } from '../engine.ts';
import {
  type DecodedPage,
  decodePage,
  encodePageInto,
  HEADER_SIZE,
  PageKind,
} from '../page-format.ts';
import type { PageReads } from '../page-image.ts';

/**
 * CoW store layout (LMDB-style): physical pages 0 and 1 are the two meta slots; every other
 * page is a data page or a map page. The meta of txn t lives in slot t % 2 and names the map
 * pages; map pages hold the logical → physical table (u32 each, 0 = never written).
 *
 *   meta payload: txn u64 | logical pages u32 | map count u32 | map physical page u32 × count
 */
export const META_SLOTS = 2;

export const entriesPerMap = (pageSize: number): number => Math.floor((pageSize - HEADER_SIZE) / 4);
export const mapPageCount = (o: EngineOptions): number =>
  Math.ceil(o.pages / entriesPerMap(o.pageSize));

/** Room for the live state plus a full rewrite of it in one transaction. */
export const cowPhysicalPages = (o: EngineOptions): number =>
  META_SLOTS + 2 * (o.pages + mapPageCount(o)) + 2;

export type Meta = { txn: number; pages: number; maps: number[] };

export function encodeMeta(buf: Uint8Array, slot: number, meta: Meta): Uint8Array {
  const payload = new Uint8Array(16 + 4 * meta.maps.length);
  const v = new DataView(payload.buffer);
  v.setBigUint64(0, BigInt(meta.txn), true);
  v.setUint32(8, meta.pages, true);
  v.setUint32(12, meta.maps.length, true);
  meta.maps.forEach((m, i) => v.setUint32(16 + 4 * i, m, true));
  return encodePageInto(
    buf,
    { kind: PageKind.meta, page: slot, seq: BigInt(meta.txn), length: 0 },
    payload,
  );
}

/** The meta in a slot, or null if the slot is empty, torn or corrupt. */
export function decodeMeta(
  bytes: Uint8Array,
  slot: number,
  verify: boolean,
  decode: (bytes: Uint8Array) => DecodedPage = decodePage,
): Meta | null {
  const d = decode(bytes);
  if (d.state !== 'ok') {
    if (verify || d.state === 'empty') return null;
  }
  const payload = d.state === 'ok' ? d.payload : bytes.subarray(HEADER_SIZE);
  if (d.state === 'ok' && (d.header.kind !== PageKind.meta || d.header.page !== slot)) return null;
  if (payload.length < 16) return null;
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const count = v.getUint32(12, true);
  if (16 + 4 * count > payload.length) return null;
  return {
    txn: Number(v.getBigUint64(0, true)),
    pages: v.getUint32(8, true),
    maps: Array.from({ length: count }, (_, i) => v.getUint32(16 + 4 * i, true)),
  };
}

export function encodeMap(
  buf: Uint8Array,
  txn: number,
  index: number,
  entries: Uint32Array,
): Uint8Array {
  const payload = new Uint8Array(entries.buffer, entries.byteOffset, entries.byteLength);
  return encodePageInto(
    buf,
    { kind: PageKind.map, page: index, seq: BigInt(txn), length: 0 },
    new Uint8Array(payload),
  );
}

/** Reads the whole logical → physical table named by a meta; null when a map page is bad. */
export function* tableReads(
  o: EngineOptions,
  meta: Meta,
  verify: boolean,
  decode: (bytes: Uint8Array) => DecodedPage = decodePage,
): PageReads<Uint32Array | null> {
  const table = new Uint32Array(o.pages);
  const per = entriesPerMap(o.pageSize);
  for (const [i, phys] of meta.maps.entries()) {
    const bytes = yield phys;
    const d = decode(bytes);
    if (verify && (d.state !== 'ok' || d.header.kind !== PageKind.map || d.header.page !== i))
      return null;
    const payload =
      d.state === 'ok' ? d.payload : bytes.subarray(HEADER_SIZE, HEADER_SIZE + per * 4);
    const entries = new Uint32Array(
      new Uint8Array(payload).buffer,
      0,
      Math.floor(payload.length / 4),
    );
    for (let j = 0; j < entries.length && i * per + j < o.pages; j++)
      table[i * per + j] = entries[j]!;
  }
  return table;
}
