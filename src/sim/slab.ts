/**
 * Small buffers carved out of large ones: an ArrayBuffer per crash state's overlay (or per 4 KiB
 * read) cost more than filling it. A slab stays alive while any buffer carved from it does,
 * which is fine for the short-lived states of one exploration.
 */
export class Slab {
  private slab = new Uint8Array(0);
  private used = 0;

  constructor(private readonly slabSize = 1 << 20) {}

  /** A fresh buffer of `length` bytes, not zeroed: the caller must fill all of it. */
  carve(length: number): Uint8Array {
    if (this.used + length > this.slab.length) {
      // Not zeroed: every carve is filled whole by its caller, and zeroing cost as much as the fill.
      // A plain Uint8Array over the memory: a Buffer's slice() would be a view, not a copy.
      const bytes = Buffer.allocUnsafeSlow(Math.max(this.slabSize, length));
      this.slab = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      this.used = 0;
    }
    this.used += length;
    return this.slab.subarray(this.used - length, this.used);
  }
}
