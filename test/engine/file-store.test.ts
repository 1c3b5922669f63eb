import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStoreFile } from '../../src/engine/file-store.ts';
import { isAligned } from '../../src/native/index.ts';

mkdirSync('.cache', { recursive: true });
const dir = mkdtempSync(join('.cache', 'store-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

for (const direct of [false, true]) {
  test(`StoreFile round-trip (${direct ? 'O_DIRECT' : 'buffered'}), preallocated`, async (t) => {
    const path = join(dir, `s-${direct}.db`);
    const f = await openStoreFile(path, { create: true, size: 1 << 16, direct });
    t.is(f.size(), 1 << 16);
    t.true(statSync(path).blocks >= 128, 'blocks allocated up front');
    const buf = f.alloc(4096).fill(3);
    if (direct) t.true(isAligned(buf));
    await f.pwrite(buf, 8192);
    await f.fdatasync();
    t.deepEqual(await f.pread(4096, 8192), buf);
    t.is((await f.pread(4096, (1 << 16) - 100)).length, 100, 'short read at the end');
    // An unaligned caller buffer is copied into an aligned one under O_DIRECT.
    await f.pwrite(new Uint8Array(4096).fill(4), 0);
    t.is((await f.pread(4096, 0))[10], 4);
    await f.close();
  });
}

test('errors are IoErrors with the POSIX code', async (t) => {
  await t.throwsAsync(openStoreFile(join(dir, 'nope', 'x.db')), {
    name: 'IoError',
    message: /ENOENT/,
  });
});
