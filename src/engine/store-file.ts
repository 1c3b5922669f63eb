/**
 * The file interface every engine writes through. Implemented by a real file or block device
 * (native addon: buffered or O_DIRECT) and by the simulated crash device (src/sim/).
 * Errors carry a POSIX code (`EIO`, `EINVAL`, ...) in `code`, like Node's own fs errors.
 */
export interface StoreFile {
  /** Size in bytes (for a block device, its capacity). */
  size(): number;
  /** A buffer suitable for this file's I/O (4096-aligned when the file is opened with O_DIRECT). */
  alloc(length: number): Uint8Array;
  pwrite(buf: Uint8Array, offset: number): Promise<void>;
  /**
   * Optional: several writes, in order, as one request (a real file: one pool job). Every write
   * is attempted; the first failure rejects once all have run. Engines fall back to `pwrite`s.
   */
  pwriteMany?(writes: readonly PageWrite[]): Promise<void>;
  /**
   * Optional: the same, done on the calling thread before it returns (throws the first failure
   * once every write was attempted). Offered only where a write lands in the page cache and
   * never waits for the device (a buffered file: ~3 µs a page here, against 40-70 µs for a trip
   * through the libuv pool and back); engines prefer it to `pwriteMany` where it is offered.
   */
  pwriteManySync?(writes: readonly PageWrite[]): void;
  pread(length: number, offset: number): Promise<Uint8Array>;
  fdatasync(): Promise<void>;
  close(): Promise<void>;
}

export type PageWrite = { buf: Uint8Array; offset: number };

/** An I/O error with a POSIX code, thrown by StoreFile implementations. */
export class IoError extends Error {
  readonly code: string;
  readonly syscall: string;
  constructor(code: string, syscall: string, message?: string) {
    super(message ?? `${syscall}: ${code}`);
    this.name = 'IoError';
    this.code = code;
    this.syscall = syscall;
  }
}

/** The POSIX code of an error thrown by a StoreFile ('EIO', ...), or 'EUNKNOWN'. */
export function errorCode(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return 'EUNKNOWN';
}

/**
 * Every write of `writes`: on this thread where the file offers it, else as one request where
 * it offers that, else all at once; resolves
 * when each has landed, rejects with the first failure once none is still in flight.
 */
export async function pwriteAll(file: StoreFile, writes: readonly PageWrite[]): Promise<void> {
  if (file.pwriteManySync) return file.pwriteManySync(writes);
  if (file.pwriteMany) return file.pwriteMany(writes);
  const landed = await Promise.allSettled(writes.map((w) => file.pwrite(w.buf, w.offset)));
  const failed = landed.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
