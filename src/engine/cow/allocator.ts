/**
 * Physical page allocator for the CoW engine. A page freed by commit k (the old version of a
 * page it rewrote, its old map pages) is still referenced by commit k-1, whose meta stays in
 * the other slot until commit k+1 overwrites it. Reusing it is safe once k is durable: a crash
 * during k+1 recovers k (or k+1), neither of which references it. So frees of a commit join
 * the free list only when that commit's meta fdatasync returned.
 */
export class PageAllocator {
  private readonly free: number[] = [];
  private pendingFree: number[] = [];

  constructor(first: number, end: number, live: Iterable<number>) {
    const used = new Set(live);
    for (let p = end - 1; p >= first; p--) if (!used.has(p)) this.free.push(p);
  }

  /** Lowest free page (popped from the end of a descending list). */
  allocate(): number {
    const page = this.free.pop();
    if (page === undefined) throw Object.assign(new Error('store is full'), { code: 'ENOSPC' });
    return page;
  }

  /** Pages that become reusable once the current commit is durable. */
  release(pages: Iterable<number>): void {
    this.pendingFree.push(...pages);
  }

  /** The commit is durable: its frees may be reused from now on. */
  commitDurable(): void {
    this.free.push(...this.pendingFree);
    this.free.sort((a, b) => b - a);
    this.pendingFree = [];
  }

  isFree(page: number): boolean {
    return this.free.includes(page);
  }

  get freeCount(): number {
    return this.free.length;
  }
}
