import { writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as native from '../src/native/index.ts';

export type MmapRow = { workload: string; pread: string; mmap: string; unit: string };

const PAGE = 4096;

function dropCaches(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

/** xorshift, so both sides read the same random pages. */
function pages(n: number, total: number, seed = 7): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % total;
  });
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/**
 * Seed item 8: pread vs mmap on this machine. Both sides touch every cache line of what they
 * read, so neither gets away without reading.
 */
export function benchMmap(dir: string, sizeMiB: number): MmapRow[] {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'mmap-bench.bin');
  const size = sizeMiB << 20;
  const total = size / PAGE;
  const fd = native.openFile(path, { create: true });
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  for (let off = 0; off < size; off += chunk.length) native.pwrite(fd, chunk, off);
  native.fsync(fd);
  const rows: MmapRow[] = [];
  let sink = 0;
  const touch = (b: Uint8Array, from: number, len: number): void => {
    for (let i = from; i < from + len; i += 64) sink += b[i]!;
  };

  // Sequential read of the whole file (warm cache).
  let t = process.hrtime.bigint();
  const buf = Buffer.alloc(1 << 20);
  for (let off = 0; off < size; off += buf.length) {
    native.pread(fd, buf, off);
    touch(buf, 0, buf.length);
  }
  const seqPread = size / 2 ** 20 / seconds(t);
  let map = native.mmapFile(fd, size);
  t = process.hrtime.bigint();
  touch(map, 0, size);
  const seqMmap = size / 2 ** 20 / seconds(t);
  rows.push({
    workload: `sequential read of ${sizeMiB} MiB (warm)`,
    pread: seqPread.toFixed(0),
    mmap: seqMmap.toFixed(0),
    unit: 'MiB/s',
  });

  // Random 4 KiB reads, warm.
  const warm = pages(100_000, total);
  const page = Buffer.alloc(PAGE);
  t = process.hrtime.bigint();
  for (const p of warm) {
    native.pread(fd, page, p * PAGE);
    touch(page, 0, PAGE);
  }
  const warmPread = warm.length / seconds(t);
  t = process.hrtime.bigint();
  for (const p of warm) touch(map, p * PAGE, PAGE);
  const warmMmap = warm.length / seconds(t);
  rows.push({
    workload: 'random 4 KiB reads (warm)',
    pread: warmPread.toFixed(0),
    mmap: warmMmap.toFixed(0),
    unit: 'reads/s',
  });

  // Random 4 KiB reads, cold: page cache dropped before each side (root only).
  const cold = pages(3_000, total, 11);
  if (dropCaches()) {
    t = process.hrtime.bigint();
    for (const p of cold) {
      native.pread(fd, page, p * PAGE);
      touch(page, 0, PAGE);
    }
    const coldPread = cold.length / seconds(t);
    dropCaches();
    map = native.mmapFile(fd, size);
    t = process.hrtime.bigint();
    for (const p of cold) touch(map, p * PAGE, PAGE);
    const coldMmap = cold.length / seconds(t);
    rows.push({
      workload: 'random 4 KiB reads (cold)',
      pread: coldPread.toFixed(0),
      mmap: coldMmap.toFixed(0),
      unit: 'reads/s',
    });
  } else {
    rows.push({
      workload: 'random 4 KiB reads (cold)',
      pread: 'n/a',
      mmap: 'n/a',
      unit: 'needs root to drop caches',
    });
  }

  // Random writes with durability: pwrite + fdatasync vs store into the map + msync.
  const writes = pages(1_000, total, 13);
  const data = Buffer.alloc(PAGE, 0xa5);
  t = process.hrtime.bigint();
  for (const p of writes) {
    native.pwrite(fd, data, p * PAGE);
    native.fdatasync(fd);
  }
  const wPread = writes.length / seconds(t);
  const wmap = native.mmapFile(fd, size, true);
  t = process.hrtime.bigint();
  for (const p of writes) {
    wmap.set(data, p * PAGE);
    native.msyncRange(wmap, p * PAGE, PAGE);
  }
  const wMmap = writes.length / seconds(t);
  rows.push({
    workload: 'random 4 KiB writes, each made durable',
    pread: wPread.toFixed(0),
    mmap: wMmap.toFixed(0),
    unit: 'writes/s (pwrite+fdatasync vs msync)',
  });

  native.closeFile(fd);
  rmSync(path, { force: true });
  if (sink === -1) console.log(sink); // keep the reads observable
  return rows;
}
