import test from 'ava';
import { realClock } from '../../src/engine/clock.ts';
import {
  dumpDirectImage,
  PingPongPages,
  rawPagesFromBytes,
} from '../../src/engine/direct-layout.ts';
import { readDataPage } from '../../src/engine/page-format.ts';
import type { PageWrite, StoreFile } from '../../src/engine/store-file.ts';
import type { EngineOptions } from '../../src/engine/engine.ts';
import { pageImageOf } from '../../src/engine/page-image.ts';

const options = (): EngineOptions => ({
  pageSize: 4096,
  pages: 4,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 8,
});

test('dumpDirectImage refuses a store without both slots of every page, as recovery does', (t) => {
  const o = options();
  const image = pageImageOf(new Uint8Array((o.pages * 2 - 1) * o.pageSize), o.pageSize);
  t.throws(() => dumpDirectImage(image, o), { message: /smaller than 4 pages × 2 slots/ });
});

test('rawPagesFromBytes: page p is slots 2p and 2p+1, as views of the store', (t) => {
  const o = options();
  const bytes = new Uint8Array(o.pages * 2 * o.pageSize).map((_, i) => Math.floor(i / o.pageSize));
  const raw = rawPagesFromBytes(bytes, o.pageSize, o.pages);
  t.deepEqual([...raw.keys()], [0, 1, 2, 3]);
  t.deepEqual(
    raw.get(2)!.map((s) => [s[0], s[o.pageSize - 1], s.buffer === bytes.buffer]),
    [
      [4, 4, true],
      [5, 5, true],
    ],
  );
});

test('writeMany reuses its block once a batch has landed, never while one is being written', async (t) => {
  const opts: EngineOptions = {
    pageSize: 4096,
    pages: 8,
    writers: 1,
    batchWindowUs: 0,
    batchMaxOps: 8,
  };
  const size = 2 * opts.pages * opts.pageSize;
  const bytes = new Uint8Array(size);
  // Writes are held until the test lets them land, then copied from the caller's buffers: a
  // block reused while a batch is in flight would land the next batch's bytes.
  const held: { writes: readonly PageWrite[]; land: () => void }[] = [];
  const blocks = new Set<ArrayBufferLike>();
  const file: StoreFile = {
    size: () => size,
    alloc: (n) => new Uint8Array(n),
    pwrite: async () => t.fail('a batch is one request'),
    pwriteMany: (writes) =>
      new Promise<void>((resolve) => {
        for (const w of writes) blocks.add(w.buf.buffer);
        held.push({
          writes,
          land: () => {
            for (const w of writes) bytes.set(w.buf, w.offset);
            resolve();
          },
        });
      }),
    pread: async (n, offset) => bytes.slice(offset, offset + n),
    fdatasync: async () => undefined,
    close: async () => undefined,
  };
  const pages = await PingPongPages.open({ file, clock: realClock, options: opts });
  const value = (page: number): string | undefined => {
    const v = [0, 1].map((slot) =>
      readDataPage(
        bytes.subarray((2 * page + slot) * 4096, (2 * page + slot + 1) * 4096),
        page,
        true,
      ),
    );
    const found = v.filter((d) => d.state === 'value');
    return found.sort((a, b) => (a.seq < b.seq ? 1 : -1))[0]?.value;
  };
  const first = pages.writeMany(
    new Map([
      [0, 'a0'],
      [1, 'a1'],
    ]),
  );
  const second = pages.writeMany(
    new Map([
      [2, 'b2'],
      [3, 'b3'],
    ]),
  ); // while the first is in flight
  held[1]!.land();
  held[0]!.land();
  await Promise.all([first, second]);
  t.is(blocks.size, 2, 'a second block while the first was being written');
  t.deepEqual([0, 1, 2, 3].map(value), ['a0', 'a1', 'b2', 'b3']);
  // Both have landed: the next batch takes a block already made.
  const third = pages.writeMany(new Map([[4, 'c4']]));
  held[2]!.land();
  await third;
  t.is(blocks.size, 2);
  t.is(value(4), 'c4');
});
