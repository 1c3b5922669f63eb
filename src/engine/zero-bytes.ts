/** Zeros to compare against, grown to the longest buffer asked about. */
let zeros = new Uint8Array(65536);

/**
 * Whether every byte is zero (a never-written page): a memcmp against zeros (Buffer.compare),
 * ~0.3 µs per 4 KiB page where a loop over 64-bit words took ~2 µs and `bytes.every(b => b ===
 * 0)` ~70 µs (the simulated tier asks this of every torn or empty page it decodes).
 */
export function isAllZero(bytes: Uint8Array): boolean {
  if (bytes.length > zeros.length) zeros = new Uint8Array(bytes.length);
  return Buffer.compare(bytes, zeros.subarray(0, bytes.length)) === 0;
}
