import { dirname } from 'node:path';
import * as native from '../native/index.ts';
import { IoError, type StoreFile } from './store-file.ts';

export type OpenStoreOptions = { direct?: boolean; create?: boolean; size?: number };

/**
 * A StoreFile over a real file or block device through the native addon (async syscalls on
 * the libuv pool). With `create` + `size`, the file is preallocated and it and its directory
 * fsynced, so that the filesystem's metadata is durable before any fault is armed.
 * @example const file = await openStoreFile('/mnt/x/store.db', { create: true, size: 1 << 20 });
 */
export async function openStoreFile(
  path: string,
  options: OpenStoreOptions = {},
): Promise<StoreFile> {
  const direct = options.direct ?? false;
  const fd = wrap(() => native.openFile(path, { direct, create: options.create ?? false }));
  try {
    const st = native.fstat(fd);
    if (
      options.create &&
      options.size !== undefined &&
      !st.isBlockDevice &&
      st.size < options.size
    ) {
      native.preallocate(fd, 0, options.size);
      native.fsync(fd);
      const dir = native.openFile(dirname(path), { readOnly: true });
      try {
        native.fsync(dir);
      } finally {
        native.closeFile(dir);
      }
    }
  } catch (error) {
    native.closeFile(fd);
    throw toIoError(error);
  }
  const size = (): number => {
    const st = native.fstat(fd);
    return st.isBlockDevice ? native.blockDeviceSize(fd) : st.size;
  };
  // Plain Uint8Array views (not Buffers, whose slice() shares memory) over aligned memory.
  const alloc = (length: number): Uint8Array => {
    if (!direct) return new Uint8Array(length);
    const b = native.allocAligned(length);
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  };
  // Under O_DIRECT a caller's unaligned buffer is copied into an aligned one.
  const writable = (buf: Uint8Array): Uint8Array =>
    direct && !native.isAligned(buf) ? copyInto(alloc(buf.length), buf) : buf;
  return {
    size,
    alloc,
    async pwrite(buf, offset) {
      await wrapAsync(native.pwriteAsync(fd, writable(buf), offset));
    },
    async pwriteMany(writes) {
      await wrapAsync(
        native.pwriteBatchAsync(
          fd,
          writes.map((w) => writable(w.buf)),
          writes.map((w) => w.offset),
        ),
      );
    },
    // Buffered writes only: under O_DIRECT a write waits for the device, so it takes the pool.
    ...(!direct && {
      pwriteManySync(writes) {
        let failure: unknown;
        for (const w of writes) {
          try {
            native.pwrite(fd, w.buf, w.offset);
          } catch (error) {
            failure ??= toIoError(error);
          }
        }
        if (failure !== undefined) throw failure;
      },
    }),
    async pread(length, offset) {
      const buf = alloc(length);
      const n = await wrapAsync(native.preadAsync(fd, buf, offset));
      return n === length ? buf : buf.subarray(0, n);
    },
    fdatasync: () => wrapAsync(native.fdatasyncAsync(fd)),
    close: async () => native.closeFile(fd),
  };
}

function copyInto(target: Uint8Array, source: Uint8Array): Uint8Array {
  target.set(source);
  return target;
}

function toIoError(error: unknown): IoError {
  const e = error as { code?: string; syscall?: string; message?: string };
  return new IoError(e.code ?? 'EUNKNOWN', e.syscall ?? 'io', e.message);
}

function wrap<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toIoError(error);
  }
}

async function wrapAsync<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw toIoError(error);
  }
}
