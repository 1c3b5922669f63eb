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

test('a buffered file writes a batch on the calling thread: every write attempted, the first failure thrown after', async (t) => {
  const path = join(dir, 'many.db');
  const f = await openStoreFile(path, { create: true, size: 1 << 16 });
  t.truthy(f.pwriteManySync, 'offered by a buffered file');
  const page = (b: number) => new Uint8Array(4096).fill(b);
  f.pwriteManySync!([
    { buf: page(1), offset: 0 },
    { buf: page(2), offset: 8192 },
  ]);
  t.is((await f.pread(4096, 8192))[0], 2);
  // The middle write is past the largest file this filesystem allows (EFBIG); the last one
  // still lands, and the failure is the middle one's.
  const error = t.throws(() =>
    f.pwriteManySync!([
      { buf: page(3), offset: 0 },
      { buf: page(4), offset: 2 ** 50 },
      { buf: page(5), offset: 4096 },
    ]),
  );
  t.is(error?.name, 'IoError');
  t.is((error as { code?: string }).code, 'EFBIG');
  t.is((await f.pread(4096, 0))[0], 3);
  t.is((await f.pread(4096, 4096))[0], 5);
  await f.close();
  const direct = await openStoreFile(join(dir, 'many-direct.db'), {
    create: true,
    size: 1 << 16,
    direct: true,
  });
  t.is(
    direct.pwriteManySync,
    undefined,
    'under O_DIRECT a write waits for the device: not on this thread',
  );
  await direct.close();
});
