import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as native from '../../src/native/index.ts';
import { loadNative } from '../../src/native/loader.ts';

// A real filesystem (not tmpfs: tmpfs refuses O_DIRECT).
mkdirSync('.cache', { recursive: true });
const dir = mkdtempSync(join('.cache', 'native-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('aligned buffers are aligned, zeroed and usable; freed under GC pressure', (t) => {
  for (const size of [512, 4096, 8192, 1 << 20]) {
    const b = native.allocAligned(size);
    t.true(native.isAligned(b), `size ${size}`);
    t.is(b.length, size);
    t.true(b.every((x) => x === 0));
    b.fill(0xab);
  }
  for (let i = 0; i < 2000; i++) native.allocAligned(65536);
  t.true(native.isAligned(native.allocAligned(100, 512), 512));
  t.throws(() => native.allocAligned(4096, 1000), { message: /power of two/ });
});

test('O_DIRECT: aligned write and read round-trip', (t) => {
  const fd = native.openFile(join(dir, 'direct.bin'), { create: true, direct: true });
  const page = native.allocAligned(4096).fill(0x5a);
  t.is(native.pwrite(fd, page, 4096), 4096);
  native.fdatasync(fd);
  const back = native.allocAligned(4096);
  t.is(native.pread(fd, back, 4096), 4096);
  t.deepEqual(back, page);
  native.closeFile(fd);
});

test('O_DIRECT: an unaligned buffer fails with EINVAL from the kernel, with a clear message', (t) => {
  const fd = native.openFile(join(dir, 'direct2.bin'), { create: true, direct: true });
  const unaligned = native.allocAligned(8192).subarray(1, 4097);
  const error = t.throws(() => native.pwrite(fd, unaligned, 0));
  t.is((error as { code?: string }).code, 'EINVAL');
  t.is((error as { syscall?: string }).syscall, 'pwrite');
  t.regex(
    error.message,
    /pwrite: EINVAL: Invalid argument \(O_DIRECT needs the buffer address, offset and length aligned to 4096/,
  );
  // The raw binding: the same EINVAL straight from the kernel, without the hint.
  t.throws(() => loadNative().pwrite(fd, unaligned, 0), { message: /^pwrite: EINVAL/ });
  t.throws(
    () => native.pwrite(fd, native.allocAligned(4096), 100),
    { message: /EINVAL/ },
    'unaligned offset',
  );
  native.closeFile(fd);
});

test('punch hole frees blocks, keeps the size, reads back zeros', (t) => {
  const path = join(dir, 'punch.bin');
  const fd = native.openFile(path, { create: true });
  const mib = Buffer.alloc(1 << 20, 0x11);
  for (let i = 0; i < 4; i++) native.pwrite(fd, mib, i << 20);
  native.fsync(fd);
  const before = native.fstat(fd);
  native.punchHole(fd, 1 << 20, 2 << 20);
  const after = native.fstat(fd);
  t.is(after.size, 4 << 20, 'apparent size unchanged');
  t.true(after.blocks < before.blocks, `blocks ${before.blocks} → ${after.blocks}`);
  t.is(statSync(path).size, 4 << 20);
  const back = Buffer.alloc(4096, 0xff);
  native.pread(fd, back, (1 << 20) + 8192);
  t.true(back.every((x) => x === 0));
  native.closeFile(fd);
});

test('preallocate allocates blocks without writing', (t) => {
  const fd = native.openFile(join(dir, 'prealloc.bin'), { create: true });
  native.preallocate(fd, 0, 1 << 20);
  const st = native.fstat(fd);
  t.is(st.size, 1 << 20);
  t.true(st.blocks >= 2048);
  native.closeFile(fd);
});

test('errors carry code, errno and syscall', (t) => {
  const error = t.throws(() => native.fdatasync(987654));
  t.like(error as object, { code: 'EBADF', errno: 9, syscall: 'fdatasync' });
  t.throws(() => native.openFile(join(dir, 'missing', 'x')), { message: /^open: ENOENT/ });
});

test('async writes overlap and one fdatasync covers them', async (t) => {
  const fd = native.openFile(join(dir, 'async.bin'), { create: true, direct: true });
  const pages = Array.from({ length: 32 }, (_, i) => native.allocAligned(4096).fill(i));
  await Promise.all(pages.map((p, i) => native.pwriteAsync(fd, p, i * 4096)));
  await native.fdatasyncAsync(fd);
  for (let i = 0; i < 32; i++) {
    const back = native.allocAligned(4096);
    t.is(await native.preadAsync(fd, back, i * 4096), 4096);
    t.is(back[0], i);
  }
  await t.throwsAsync(native.fdatasyncAsync(987654), { message: /EBADF/ });
  native.closeFile(fd);
});

test('a batch of writes lands every buffer at its offset in one call; the first failure rejects after all ran', async (t) => {
  const path = join(dir, 'batch.bin');
  const fd = native.openFile(path, { create: true });
  // Views into one block (how group commit hands a batch over), written out of order.
  const block = new Uint8Array(4096 * 8);
  const bufs = Array.from({ length: 8 }, (_, i) =>
    block.subarray(i * 4096, (i + 1) * 4096).fill(i + 1),
  );
  const offsets = [7, 3, 0, 5, 1, 6, 2, 4].map((slot) => slot * 4096);
  t.is(await native.pwriteBatchAsync(fd, bufs, offsets), 8 * 4096);
  for (let i = 0; i < 8; i++) {
    const back = new Uint8Array(4096);
    native.pread(fd, back, offsets[i]!);
    t.true(
      back.every((b) => b === i + 1),
      `write ${i} at ${offsets[i]}`,
    );
  }
  native.closeFile(fd);
  // Read-only: every write fails; the promise rejects with pwrite's error.
  const ro = native.openFile(path, { readOnly: true });
  await t.throwsAsync(native.pwriteBatchAsync(ro, bufs, offsets), {
    message: /^pwrite: EBADF/,
  });
  native.closeFile(ro);
  await t.throwsAsync(native.pwriteBatchAsync(0, bufs, [0]), {
    message: /8 buffers but 1 offsets/,
  });
});

test('O_DIRECT batch: an unaligned offset fails with EINVAL, with the alignment hint', async (t) => {
  const fd = native.openFile(join(dir, 'batch-direct.bin'), { create: true, direct: true });
  const page = native.allocAligned(4096);
  await t.throwsAsync(native.pwriteBatchAsync(fd, [page, page], [0, 100]), {
    message: /EINVAL.*aligned to 4096/,
  });
  native.closeFile(fd);
});

test('mmap maps the file shared; msync makes a store through the map visible to pread', (t) => {
  const fd = native.openFile(join(dir, 'mmap.bin'), { create: true });
  native.preallocate(fd, 0, 1 << 16);
  const map = native.mmapFile(fd, 1 << 16, true);
  map.fill(0x77, 8192, 12288);
  native.msyncRange(map, 8192, 4096);
  const back = Buffer.alloc(4096);
  native.pread(fd, back, 8192);
  t.true(back.every((b) => b === 0x77));
  t.throws(() => native.msyncRange(map, 1 << 16, 1), { message: /beyond the mapping/ });
  native.closeFile(fd);
});
