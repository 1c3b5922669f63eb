/**
 * Small buffers carved out of large ones: an ArrayBuffer per crash state's overlay (or per 4 KiB
 * read) cost more than filling it. A slab stays alive while any buffer carved from it does,
 * which is fine for the short-lived states of one exploration.
 */
export class Slab {
  private slab = new Uint8Array(0);
  private used = 0;

  constructor(private readonly slabSize = 1 << 20) {}

  /** A fresh buffer of `length` bytes, not zeroed (the caller fills all of it). */
  carve(length: number): Uint8Array {
    if (this.used + length > this.slab.length) {
      this.slab = new Uint8Array(Math.max(this.slabSize, length));
      this.used = 0;
    }
    this.used += length;
    return this.slab.subarray(this.used - length, this.used);
  }
}
