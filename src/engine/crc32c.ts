// CRC32C (Castagnoli), the checksum of ext4/btrfs metadata and iSCSI: the CPU's crc32
// instruction through the native addon where it has one (~10x faster on a 4 KiB page), else
// SheetJS' crc-32 (pure JS, slice-by-16 tables). Both give the same values (a test compares).
import CRC32C from 'crc-32/crc32c.js';
import { tryLoadNative, type NativeBinding } from '../native/loader.ts';

type HwCrc = Required<Pick<NativeBinding, 'crc32c' | 'crc32cZeroingField'>>;
let hwFound: HwCrc | null | undefined;
/** The addon's CRC, looked up at the first checksum, not at start-up (the CLI's start stays). */
const hwCrc = (): HwCrc | null => {
  if (hwFound === undefined) {
    const native = tryLoadNative();
    hwFound = native?.crc32c && native.crc32cZeroingField ? (native as HwCrc) : null;
  }
  return hwFound;
};

/** Which implementation this process uses. */
export const crc32cImplementation = (): 'native' | 'js' => (hwCrc() ? 'native' : 'js');

/**
 * CRC32C of `bytes`, optionally continuing from a previous `crc`.
 * @example crc32c(new TextEncoder().encode('123456789')) === 0xe3069283
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const hw = hwCrc();
  return hw ? hw.crc32c(bytes, crc) : crc32cJs(bytes, crc);
}

/** The pure-JS CRC32C (the fallback; exported so a test can compare it with the native one). */
export function crc32cJs(bytes: Uint8Array, crc = 0): number {
  return CRC32C.buf(bytes, crc) >>> 0;
}

const zeroField = new Uint8Array(4);

/**
 * CRC32C of `bytes` as if its 4-byte field at `fieldOffset` were zero (a page's own checksum
 * field), without copying the page.
 */
export function crc32cZeroingField(bytes: Uint8Array, fieldOffset: number): number {
  if (fieldOffset < 0 || fieldOffset + 4 > bytes.length)
    throw new RangeError(`field at ${fieldOffset} is beyond ${bytes.length} bytes`);
  const hw = hwCrc();
  if (hw) return hw.crc32cZeroingField(bytes, fieldOffset);
  let crc = CRC32C.buf(bytes.subarray(0, fieldOffset), 0);
  crc = CRC32C.buf(zeroField, crc);
  return CRC32C.buf(bytes.subarray(fieldOffset + 4), crc) >>> 0;
}
