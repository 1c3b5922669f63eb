import { crc32c } from '../engine/crc32c.ts';

/**
 * A map keyed by byte content, exact: buffers are bucketed by CRC32C (the CPU's instruction
 * where it has one) and told apart within a bucket by comparing bytes. Many times cheaper than
 * a cryptographic hash per buffer. The buffers stored must not change afterwards.
 * @example const seen = new DistinctBytes<number>(); if (seen.get(b) === undefined) seen.set(b, 1);
 */
export class DistinctBytes<T> {
  private readonly buckets = new Map<number, { bytes: Uint8Array; value: T }[]>();
  size = 0;

  get(bytes: Uint8Array): T | undefined {
    return this.buckets.get(crc32c(bytes))?.find((e) => Buffer.compare(e.bytes, bytes) === 0)
      ?.value;
  }

  /** Stores `value` for these bytes; `bytes` must not be in the map already. */
  set(bytes: Uint8Array, value: T): void {
    const key = crc32c(bytes);
    const bucket = this.buckets.get(key);
    if (bucket) bucket.push({ bytes, value });
    else this.buckets.set(key, [{ bytes, value }]);
    this.size++;
  }
}
