import test from 'ava';
import fc from 'fast-check';
import { virtualClock } from '../../src/engine/clock.ts';
import type { EngineMode, EngineOptions } from '../../src/engine/engine.ts';
import {
  pageImageOf,
  type PageReads,
  readFromFile,
  readFromImage,
} from '../../src/engine/page-image.ts';
import { engineModes } from '../../src/engine/registry.ts';
import type { DumpEntry } from '../../src/model/history.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { imageFile } from '../../src/sim/image-file.ts';
import { runUntilCut } from '../../src/sim/sim-trial.ts';

const options = (o: Partial<EngineOptions> = {}): EngineOptions => ({
  pageSize: 4096,
  pages: 4,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 8,
  ...o,
});

/** What the engine's recover then dump return through a file, or the error recovery threw. */
async function viaFile(
  mode: EngineMode,
  o: EngineOptions,
  image: Uint8Array,
): Promise<DumpEntry[] | string> {
  const ctx = { file: imageFile(image), clock: virtualClock(), options: o };
  try {
    await mode.recover(ctx);
    return await mode.dump(ctx);
  } catch (error) {
    return (error as Error).message;
  }
}

function inMemory(mode: EngineMode, o: EngineOptions, image: Uint8Array): DumpEntry[] | string {
  try {
    return mode.dumpImage!(pageImageOf(image, o.pageSize), o);
  } catch (error) {
    return (error as Error).message;
  }
}

const withImage = Object.values(engineModes).filter((m) => m.dumpImage);

test('every built-in engine can be recovered and dumped in memory', (t) => {
  t.deepEqual(
    withImage.map((m) => m.name),
    ['plain', 'fsync', 'group-commit', 'cow', 'slotted'],
  );
});

for (const mode of withImage) {
  test(`${mode.name}: dumpImage is what recover then dump return through a file (torn, corrupt, unverified, doublewrite)`, async (t) => {
    await fc.assert(
      fc.asyncProperty(
        workloadArb({ pages: 4, maxOps: 10, transactional: mode.transactional }),
        fc.nat(30),
        fc.nat(),
        fc.constantFrom<Partial<EngineOptions>>(
          {},
          { bug: 'no-checksum' },
          { protection: 'doublewrite' },
        ),
        async (ops, cut, seed, variant) => {
          const o = options(variant);
          const { device } = await runUntilCut({ mode, options: o, ops, cutAtIo: cut });
          const image = device.crashImage({ seed, tear: true, corrupt: seed % 2 === 0 });
          t.deepEqual(inMemory(mode, o, image), await viaFile(mode, o, image));
        },
      ),
      { numRuns: 150, seed: 20261127 },
    );
  });
}

test('a store too small for its pages is refused in memory as through a file', async (t) => {
  for (const mode of withImage) {
    const o = options();
    const image = new Uint8Array(mode.storeSize(o) - o.pageSize).fill(7);
    const fromFile = await viaFile(mode, o, image);
    t.is(typeof fromFile, 'string', `${mode.name} must refuse a short store through a file`);
    t.deepEqual(inMemory(mode, o, image), fromFile, mode.name);
  }
});

test('readFromFile and readFromImage answer the same page reads; beyond the end, empty', async (t) => {
  function* reads(): PageReads<number[]> {
    const firsts: number[] = [];
    for (const p of [2, 0, 9]) {
      const bytes = yield p;
      firsts.push(bytes.length === 0 ? -1 : bytes[0]!);
    }
    return firsts;
  }
  const image = new Uint8Array(3 * 512).map((_, i) => Math.floor(i / 512) + 1);
  t.deepEqual(readFromImage(reads(), pageImageOf(image, 512)), [3, 1, -1]);
  t.deepEqual(await readFromFile(reads(), imageFile(image), 512), [3, 1, -1]);
});

test('readFromFile reads a walk in order with few preads, growing to 64 pages; any order answers the same', async (t) => {
  const pages = 100;
  const image = new Uint8Array(pages * 512).map((_, i) => Math.floor(i / 512) % 251);
  function* walk(order: number[]): PageReads<number[]> {
    const firsts: number[] = [];
    for (const p of order) {
      const bytes = yield p;
      t.is(bytes.length, p < pages ? 512 : 0, `page ${p}`);
      firsts.push(bytes.length === 0 ? -1 : bytes[0]!);
    }
    return firsts;
  }
  const counted = () => {
    const file = imageFile(image);
    const lengths: number[] = [];
    return {
      lengths,
      file: {
        ...file,
        pread: (length: number, offset: number) => (
          lengths.push(length / 512),
          file.pread(length, offset)
        ),
      },
    };
  };
  const inOrder = Array.from({ length: pages + 2 }, (_, i) => i);
  const sequential = counted();
  t.deepEqual(
    await readFromFile(walk(inOrder), sequential.file, 512),
    readFromImage(walk(inOrder), pageImageOf(image, 512)),
  );
  // 1, 2, 4, ... pages: 7 reads reach page 100, then the two pages past the end read nothing.
  t.deepEqual(sequential.lengths.slice(0, 7), [1, 2, 4, 8, 16, 32, 64]);
  t.true(sequential.lengths.length <= 9, `${sequential.lengths.length} preads`);

  const jumps = [5, 6, 7, 3, 99, 0, 1, 2, 3, 50, 51, 4, 200];
  const jumping = counted();
  t.deepEqual(
    await readFromFile(walk(jumps), jumping.file, 512),
    readFromImage(walk(jumps), pageImageOf(image, 512)),
  );
  t.is(Math.max(...jumping.lengths), 4, 'a jump starts again at one page');
});
