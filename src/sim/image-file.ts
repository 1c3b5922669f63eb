import { Slab } from './slab.ts';
import { IoError, type StoreFile } from '../engine/store-file.ts';

/**
 * A StoreFile over a crash state's image (bytes, or a source read in place), for the engine's
 * recover and dump: reads are copies, and the first write copies the whole image first, so the
 * state's own bytes stay as drawn
 * (the checker reads its raw pages afterwards). No power cut, no faults: after a crash the
 * device is healthy. Costs nothing per state for a recovery that only reads (a SimDevice
 * copied the image twice).
 * @example const file = imageFile(state.image()); await mode.recover({ file, clock, options });
 */
export function imageFile(image: Uint8Array | ImageSource): StoreFile {
  const source: ImageSource =
    image instanceof Uint8Array
      ? {
          size: image.length,
          readInto: (start, end, out, at) => out.set(image.subarray(start, end), at),
          materialize: () => image.slice(),
        }
      : image;
  let bytes: Uint8Array | undefined; // the image, once a write made it this file's own
  // Reads are carved out of 64 KiB slabs: an ArrayBuffer per 4 KiB read cost more than the copy.
  const reads = new Slab(65536);
  return {
    size: () => source.size,
    alloc: (length) => new Uint8Array(length),
    pwrite: async (buf, offset) => {
      if (offset < 0 || offset + buf.length > source.size)
        throw new IoError('ENOSPC', 'pwrite', 'pwrite: ENOSPC: beyond the end of the device');
      bytes ??= source.materialize();
      bytes.set(buf, offset);
    },
    pread: async (length, offset) => {
      const end = Math.min(source.size, offset + length);
      const from = Math.min(offset, end);
      const out = reads.carve(end - from);
      if (bytes) out.set(bytes.subarray(from, end));
      else source.readInto(from, end, out, 0);
      return out;
    },
    fdatasync: async () => undefined,
    close: async () => undefined,
  };
}

/**
 * An image read in place, never built unless written: `readInto` copies bytes [start, end) into
 * `out` at `at`; `materialize` returns a copy of the whole image that the file may change.
 */
export type ImageSource = {
  size: number;
  readInto: (start: number, end: number, out: Uint8Array, at: number) => void;
  materialize: () => Uint8Array;
};
