import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as native from '../src/native/index.ts';
import { createAsyncReader, type PreadBackend } from '../src/native/pread-async.ts';

export type QdRow = { backend: string; queueDepth: number; iops: number };

/**
 * Seed item 1: random 4 KiB O_DIRECT reads through `preadAsync` with the thread-pool backend
 * and the io_uring backend, at queue depth 1, 8 and 32 (that many reads always in flight).
 */
export async function benchPreadAsync(
  dir: string,
  sizeMiB: number,
  readsPerRun: number,
): Promise<QdRow[]> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'qd-bench.bin');
  const setup = native.openFile(path, { create: true });
  const chunk = Buffer.alloc(1 << 20, 0x3c);
  for (let off = 0; off < sizeMiB << 20; off += chunk.length) native.pwrite(setup, chunk, off);
  native.fsync(setup);
  native.closeFile(setup);
  const fd = native.openFile(path, { direct: true });
  const pages = (sizeMiB << 20) / 4096;
  const rows: QdRow[] = [];
  for (const backend of ['pool', 'io_uring'] as PreadBackend[]) {
    for (const depth of [1, 8, 32]) {
      const reader = createAsyncReader(fd, { backend, depth });
      const bufs = Array.from({ length: depth }, () => native.allocAligned(4096));
      let x = 12345;
      const nextPage = (): number => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) % pages;
      };
      let done = 0;
      const start = process.hrtime.bigint();
      // `depth` independent loops, each keeping one read in flight.
      await Promise.all(
        bufs.map(async (buf) => {
          while (done < readsPerRun) {
            done++;
            await reader.read(buf, nextPage() * 4096);
          }
        }),
      );
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      rows.push({
        backend: reader.backend,
        queueDepth: depth,
        iops: Math.round(readsPerRun / seconds),
      });
    }
  }
  native.closeFile(fd);
  rmSync(path, { force: true });
  return rows;
}
