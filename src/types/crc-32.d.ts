// crc-32's CRC32C entry point has no declaration of its own; it has the package's CRC32 API.
declare module 'crc-32/crc32c.js' {
  /** CRC32C of `data` (a signed 32-bit value), continuing from the CRC `seed`. */
  export function buf(data: Uint8Array, seed?: number): number;
}
