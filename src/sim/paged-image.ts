/**
 * An immutable device image held as pages: a new version (`with`) copies only the pages its
 * writes touch and shares the rest with the version before. The simulated device's durable
 * image is one: every crash point holds the version of its moment, and a sync used to copy the
 * whole image for the next one (a fresh 64 KiB buffer per sync was most of a group-commit
 * run's cost on this project's machines); now it copies the pages it wrote.
 */
export class PagedImage {
  private constructor(
    readonly length: number,
    readonly pageSize: number,
    /** Never written once the image is built: versions share them. */
    private readonly pages: readonly Uint8Array[],
  ) {}

  /**
   * `length` zero bytes. Page i is the same zero buffer in every image of that page size (never
   * written), but not page j's: readers memoize what a buffer decodes to as page i.
   */
  static zeros(length: number, pageSize: number): PagedImage {
    const count = Math.ceil(length / pageSize);
    let shared = zeroPages.get(pageSize);
    if (!shared) zeroPages.set(pageSize, (shared = []));
    while (shared.length < count) shared.push(new Uint8Array(pageSize));
    const pages = Array.from({ length: count }, (_, i) =>
      i === count - 1 && length % pageSize !== 0 ? new Uint8Array(length % pageSize) : shared[i]!,
    );
    return new PagedImage(length, pageSize, pages);
  }

  /** A copy of `bytes`, as pages. */
  static of(bytes: Uint8Array, pageSize: number): PagedImage {
    const copy = bytes.slice();
    const pages = Array.from({ length: Math.ceil(copy.length / pageSize) }, (_, i) =>
      copy.subarray(i * pageSize, Math.min(copy.length, (i + 1) * pageSize)),
    );
    return new PagedImage(copy.length, pageSize, pages);
  }

  /** Page `i` (read it, never write it). */
  page(i: number): Uint8Array {
    return this.pages[i]!;
  }

  get pageCount(): number {
    return this.pages.length;
  }

  /** This image with `writes` laid on it in order: the pages they touch copied, the rest shared. */
  with(writes: readonly { offset: number; data: Uint8Array }[]): PagedImage {
    if (writes.length === 0) return this;
    const { pageSize } = this;
    const pages = this.pages.slice();
    const copied = new Array<boolean>(pages.length).fill(false);
    for (const w of writes) {
      const end = w.offset + w.data.length;
      if (w.offset < 0 || end > this.length)
        throw new RangeError(
          `a write of ${w.data.length} bytes at ${w.offset} is outside the image`,
        );
      for (let pos = w.offset; pos < end;) {
        const i = Math.floor(pos / pageSize);
        const to = Math.min(end, (i + 1) * pageSize);
        if (!copied[i]) {
          pages[i] = pages[i]!.slice();
          copied[i] = true;
        }
        pages[i]!.set(w.data.subarray(pos - w.offset, to - w.offset), pos - i * pageSize);
        pos = to;
      }
    }
    return new PagedImage(this.length, pageSize, pages);
  }

  /**
   * Calls `piece` on bytes [start, end) in order, as views of the pages (no copy); `offset` is
   * where each piece starts in the image.
   */
  visit(start: number, end: number, piece: (bytes: Uint8Array, offset: number) => void): void {
    const { pageSize } = this;
    for (let pos = start; pos < end;) {
      const i = Math.floor(pos / pageSize);
      const to = Math.min(end, (i + 1) * pageSize);
      piece(this.pages[i]!.subarray(pos - i * pageSize, to - i * pageSize), pos);
      pos = to;
    }
  }

  /** Copies bytes [start, end) into `out` at `at`. */
  readInto(start: number, end: number, out: Uint8Array, at: number): void {
    this.visit(start, end, (bytes, offset) => out.set(bytes, at + offset - start));
  }

  /** The whole image in one fresh buffer. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    this.readInto(0, this.length, out, 0);
    return out;
  }
}

/** Zero pages by page size and index, shared by every zero image (see PagedImage.zeros). */
const zeroPages = new Map<number, Uint8Array[]>();
