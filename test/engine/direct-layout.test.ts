import test from 'ava';
import { dumpDirectImage, rawPagesFromBytes } from '../../src/engine/direct-layout.ts';
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
