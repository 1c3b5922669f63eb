import { IoError, type StoreFile } from '../engine/store-file.ts';

/**
 * A StoreFile over a crash state's image, for the engine's recover and dump: reads are copies,
 * and the first write copies the whole image first, so the state's own bytes stay as drawn
 * (the checker reads its raw pages afterwards). No power cut, no faults: after a crash the
 * device is healthy. Costs nothing per state for a recovery that only reads (a SimDevice
 * copied the image twice).
 * @example const file = imageFile(state.image()); await mode.recover({ file, clock, options });
 */
export function imageFile(image: Uint8Array): StoreFile {
  let bytes = image;
  let copied = false;
  // Reads are carved out of 64 KiB slabs: an ArrayBuffer per 4 KiB read cost more than the copy.
  let slab = new Uint8Array(0);
  let used = 0;
  const carve = (length: number): Uint8Array => {
    if (used + length > slab.length) {
      slab = new Uint8Array(Math.max(65536, length));
      used = 0;
    }
    used += length;
    return slab.subarray(used - length, used);
  };
  return {
    size: () => bytes.length,
    alloc: (length) => new Uint8Array(length),
    pwrite: async (buf, offset) => {
      if (offset < 0 || offset + buf.length > bytes.length)
        throw new IoError('ENOSPC', 'pwrite', 'pwrite: ENOSPC: beyond the end of the device');
      if (!copied) {
        bytes = bytes.slice();
        copied = true;
      }
      bytes.set(buf, offset);
    },
    pread: async (length, offset) => {
      const end = Math.min(bytes.length, offset + length);
      const from = Math.min(offset, end);
      const out = carve(end - from);
      out.set(bytes.subarray(from, end));
      return out;
    },
    fdatasync: async () => undefined,
    close: async () => undefined,
  };
}
