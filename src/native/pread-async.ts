import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../package-root.ts';
import { preadAsync } from './index.ts';

export type PreadBackend = 'pool' | 'io_uring';

/** One read API over two backends (seed item 1): consumers never change when the backend does. */
export interface AsyncReader {
  readonly backend: PreadBackend;
  read(buf: Uint8Array, offset: number): Promise<number>;
}

type UringBinding = {
  available(): boolean;
  create?(depth: number): unknown;
  readBatch?(
    ring: unknown,
    fd: number,
    buffers: Uint8Array[],
    offsets: number[],
  ): Promise<number[]>;
};

let uring: UringBinding | null | undefined;

/** The io_uring addon if it was built with liburing (Debian's liburing-dev), else null. */
export function uringBinding(): UringBinding | null {
  if (uring !== undefined) return uring;
  const root = packageRoot();
  const path = root ? join(root, 'native/build/Release/powercut_uring.node') : undefined;
  const binding =
    path && existsSync(path) ? (createRequire(import.meta.url)(path) as UringBinding) : null;
  uring = binding?.available() ? binding : null;
  return uring;
}

/**
 * A reader for `fd`. `pool`: each read is a pread on libuv's thread pool. `io_uring`: reads
 * issued in the same tick are submitted together to an io_uring of `depth` entries and reaped
 * on a pool thread. Asking for io_uring where it is not built falls back to the pool.
 * @example const r = createAsyncReader(fd, { backend: 'io_uring', depth: 32 }); await r.read(buf, 0);
 */
export function createAsyncReader(
  fd: number,
  options: { backend: PreadBackend; depth?: number },
): AsyncReader {
  const binding = options.backend === 'io_uring' ? uringBinding() : null;
  if (!binding?.create || !binding.readBatch)
    return { backend: 'pool', read: (buf, offset) => preadAsync(fd, buf, offset) };
  const ring = binding.create(options.depth ?? 32);
  const readBatch = binding.readBatch;
  let batch: {
    buf: Uint8Array;
    offset: number;
    resolve: (n: number) => void;
    reject: (e: unknown) => void;
  }[] = [];
  const flush = (): void => {
    const current = batch;
    batch = [];
    readBatch(
      ring,
      fd,
      current.map((r) => r.buf),
      current.map((r) => r.offset),
    ).then(
      (results) =>
        current.forEach((r, i) => {
          const n = results[i]!;
          if (n < 0)
            r.reject(Object.assign(new Error(`io_uring read: errno ${-n}`), { errno: -n }));
          else r.resolve(n);
        }),
      (error: unknown) => current.forEach((r) => r.reject(error)),
    );
  };
  return {
    backend: 'io_uring',
    read: (buf, offset) =>
      new Promise((resolve, reject) => {
        if (batch.length === 0) queueMicrotask(flush);
        batch.push({ buf, offset, resolve, reject });
      }),
  };
}
