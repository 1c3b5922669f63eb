/**
 * Whether every byte is zero (a never-written page). Eight bytes at a time where the view is
 * aligned: `bytes.every(b => b === 0)` took ~70 µs per 4 KiB page, most of the simulated
 * tier's time on sparse stores.
 */
export function isAllZero(bytes: Uint8Array): boolean {
  let i = 0;
  const head = (8 - (bytes.byteOffset % 8)) % 8;
  for (; i < Math.min(head, bytes.length); i++) if (bytes[i] !== 0) return false;
  const words = Math.floor((bytes.length - i) / 8);
  if (words > 0) {
    const wide = new BigUint64Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let w = 0; w < words; w++) if (wide[w] !== 0n) return false;
    i += words * 8;
  }
  for (; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
