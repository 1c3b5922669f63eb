import test from 'ava';
import fc from 'fast-check';
import { virtualClock } from '../../src/engine/clock.ts';
import {
  dumpDirect,
  dumpDirectRawPages,
  rawPagesFromBytes,
} from '../../src/engine/direct-layout.ts';
import type { EngineOptions } from '../../src/engine/engine.ts';
import { fsyncEngine } from '../../src/engine/fsync.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { imageFile } from '../../src/sim/image-file.ts';
import { runUntilCut } from '../../src/sim/sim-trial.ts';

const options = (bug?: 'no-checksum'): EngineOptions => ({
  pageSize: 4096,
  pages: 4,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 8,
  ...(bug ? { bug } : {}),
});

const rawPagesOf = (image: Uint8Array, o: EngineOptions) =>
  rawPagesFromBytes(image, o.pageSize, o.pages);

test('dumpDirectRawPages is what dumpDirect reads through a file: torn, corrupt and unverified slots', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      workloadArb({ pages: 4, maxOps: 10, transactional: false }),
      fc.nat(30),
      fc.nat(),
      fc.boolean(),
      async (ops, cut, seed, unverified) => {
        const o = options(unverified ? 'no-checksum' : undefined);
        const { device } = await runUntilCut({ mode: fsyncEngine, options: o, ops, cutAtIo: cut });
        const image = device.crashImage({ seed, tear: true, corrupt: seed % 2 === 0 });
        const viaFile = await dumpDirect({
          file: imageFile(image),
          clock: virtualClock(),
          options: o,
        });
        t.deepEqual(dumpDirectRawPages(rawPagesOf(image, o), o), viaFile);
      },
    ),
    { numRuns: 150, seed: 20261127 },
  );
});

test('dumpDirectRawPages refuses a store without both slots of every page, as recovery does', (t) => {
  const o = options();
  const pages = rawPagesOf(new Uint8Array(o.pages * 2 * o.pageSize), o);
  pages.delete(3);
  t.throws(() => dumpDirectRawPages(pages, o), { message: /page 3/ });
});
