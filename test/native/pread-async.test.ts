import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as native from '../../src/native/index.ts';
import { createAsyncReader, uringBinding } from '../../src/native/pread-async.ts';

mkdirSync('.cache', { recursive: true });
const dir = mkdtempSync(join('.cache', 'uring-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

for (const backend of ['pool', 'io_uring'] as const) {
  test(`preadAsync (${backend}): concurrent reads return the right pages`, async (t) => {
    const fd = native.openFile(join(dir, `${backend}.bin`), { create: true });
    for (let p = 0; p < 64; p++) native.pwrite(fd, Buffer.alloc(4096, p), p * 4096);
    const reader = createAsyncReader(fd, { backend, depth: 8 });
    if (backend === 'io_uring' && uringBinding()) t.is(reader.backend, 'io_uring');
    const bufs = Array.from({ length: 40 }, () => new Uint8Array(4096));
    const pages = bufs.map((_, i) => (i * 37) % 64);
    const n = await Promise.all(bufs.map((b, i) => reader.read(b, pages[i]! * 4096)));
    t.true(n.every((x) => x === 4096));
    bufs.forEach((b, i) => t.is(b[100], pages[i]));
    t.is(await reader.read(new Uint8Array(4096), 64 * 4096), 0, 'end of file');
    native.closeFile(fd);
  });
}

test('io_uring is built when liburing is installed (vm/host-deps.sh installs it)', (t) => {
  t.truthy(uringBinding(), 'liburing-dev present at build time: the io_uring backend must exist');
});
