// CRC32C (Castagnoli), the checksum of ext4/btrfs metadata and iSCSI, from SheetJS' crc-32
// (pure JS, slice-by-16 tables: ~2x the byte-at-a-time loop this replaced, and it still ships
// inside the guest bundle without a native dependency).
import CRC32C from 'crc-32/crc32c.js';

/**
 * CRC32C of `bytes`, optionally continuing from a previous `crc`.
 * @example crc32c(new TextEncoder().encode('123456789')) === 0xe3069283
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  return CRC32C.buf(bytes, crc) >>> 0;
}

const zeroField = new Uint8Array(4);

/**
 * CRC32C of `bytes` as if its 4-byte field at `fieldOffset` were zero (a page's own checksum
 * field), without copying the page.
 */
export function crc32cZeroingField(bytes: Uint8Array, fieldOffset: number): number {
  let crc = CRC32C.buf(bytes.subarray(0, fieldOffset), 0);
  crc = CRC32C.buf(zeroField, crc);
  return CRC32C.buf(bytes.subarray(fieldOffset + 4), crc) >>> 0;
}
