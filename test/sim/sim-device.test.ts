import test from 'ava';
import fc from 'fast-check';
import { SimDevice } from '../../src/sim/sim-device.ts';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const images = (d: SimDevice, n: number, tear = false): Uint8Array[] =>
  Array.from({ length: n }, (_, seed) => d.crashImage({ seed, tear }));

test('synced data survives every crash image', async (t) => {
  const d = new SimDevice({ size: 8192 });
  const f = d.file();
  await f.pwrite(bytes(4096, 1), 0);
  await f.fdatasync();
  for (const img of images(d, 50)) t.deepEqual(img.subarray(0, 4096), bytes(4096, 1));
});

test('unsynced writes appear in some crash images and not in others, never as other data', async (t) => {
  const d = new SimDevice({ size: 8192 });
  const f = d.file();
  await f.pwrite(bytes(4096, 7), 4096);
  const seen = new Set(images(d, 40).map((img) => img[4096]));
  t.deepEqual([...seen].sort(), [0, 7]);
  t.deepEqual(await f.pread(1, 4096), new Uint8Array([7]), 'reads see the page cache');
});

test('tearing mixes sectors of old and new data within one write', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  await f.pwrite(bytes(4096, 1), 0);
  await f.fdatasync();
  await f.pwrite(bytes(4096, 2), 0);
  const mixed = images(d, 60, true).some((img) => {
    const sectors = Array.from({ length: 8 }, (_, s) => img[s * 512]);
    return sectors.includes(1) && sectors.includes(2);
  });
  t.true(mixed);
});

test('drop_writes: reads see the write, no crash image has it', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  d.arm('drop_writes');
  await f.pwrite(bytes(4096, 9), 0);
  await f.fdatasync();
  t.is((await f.pread(1, 0))[0], 9);
  for (const img of images(d, 20)) t.is(img[0], 0);
});

test('error_writes: fdatasync fails once with EIO, then "succeeds" with the data gone (fsyncgate)', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  d.arm('error_writes');
  await f.pwrite(bytes(4096, 5), 0);
  await t.throwsAsync(f.fdatasync(), { message: /EIO/ });
  d.disarm();
  await t.notThrowsAsync(f.fdatasync());
  for (const img of images(d, 20)) t.is(img[0], 0);
  d.arm('error_writes');
  const direct = d.file({ direct: true });
  await t.throwsAsync(direct.pwrite(bytes(4096, 5), 0), { message: /EIO/ });
});

test('a write made before error_writes is armed fails at the fdatasync made while armed', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  await f.pwrite(bytes(4096, 7), 0);
  d.arm('error_writes');
  await t.throwsAsync(f.fdatasync(), { message: /EIO/ });
  for (const img of images(d, 20)) t.is(img[0], 0);
});

test('drop_writes: an fdatasync made while armed makes nothing durable', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  await f.pwrite(bytes(4096, 7), 0);
  d.arm('drop_writes');
  await f.fdatasync();
  const kept = images(d, 40).map((img) => img[0]);
  t.true(kept.includes(0), 'some crash image lacks the unsynced write');
});

test('corrupt_bio_byte stores the write with one byte changed', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  d.arm('corrupt_bio_byte', { corruptByte: 3, corruptValue: 0xee });
  await f.pwrite(bytes(4096, 1), 0);
  await f.fdatasync();
  const img = d.crashImage({ seed: 1 });
  t.is(img[2], 0xee);
  t.is(img[3], 1);
});

test('direct handles need 4096-aligned offsets and lengths', async (t) => {
  const f = new SimDevice({ size: 8192 }).file({ direct: true });
  await t.throwsAsync(f.pwrite(bytes(512, 1), 0), { message: /EINVAL/ });
  await t.throwsAsync(f.pwrite(bytes(4096, 1), 512), { message: /EINVAL/ });
  await t.notThrowsAsync(f.pwrite(bytes(4096, 1), 4096));
});

test('after the power cut no I/O call ever settles', async (t) => {
  const d = new SimDevice({ size: 4096 });
  const f = d.file();
  d.cutAfterIo(1);
  await f.pwrite(bytes(4096, 1), 0);
  const settled = await Promise.race([
    f.fdatasync().then(() => 'settled'),
    new Promise((r) => setTimeout(() => r('hung'), 50)),
  ]);
  t.is(settled, 'hung');
  await d.frozen;
  t.true(d.isCut);
});

test('same seed, same crash image', async (t) => {
  const d = new SimDevice({ size: 65536 });
  const f = d.file();
  for (let i = 0; i < 16; i++) await f.pwrite(bytes(4096, i + 1), i * 4096);
  t.deepEqual(d.crashImage({ seed: 3, tear: true }), d.crashImage({ seed: 3, tear: true }));
  t.notDeepEqual(d.crashImage({ seed: 3, tear: true }), d.crashImage({ seed: 4, tear: true }));
});

test('crash images per second (measured, printed; not asserted)', async (t) => {
  const d = new SimDevice({ size: 1 << 20 });
  const f = d.file();
  for (let i = 0; i < 64; i++) await f.pwrite(bytes(4096, i), (i % 256) * 4096);
  const start = process.hrtime.bigint();
  let n = 0;
  while (process.hrtime.bigint() - start < 300_000_000n) d.crashImage({ seed: n++, tear: true });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  t.log(`${Math.round(n / seconds)} crash images/s (1 MiB device, 64 pending writes)`);
  t.true(n > 0);
});

test('crash states: equal keys exactly when the images are equal, and the image is the one crashImage draws', async (t) => {
  // Overlapping and adjacent pending writes, some over synced data: the overlay must map each
  // write into the right merged range.
  const d = new SimDevice({ size: 8 * 4096 });
  const f = d.file();
  await f.pwrite(bytes(8192, 9), 4096);
  await f.fdatasync();
  await f.pwrite(bytes(4096, 1), 0);
  await f.pwrite(bytes(4096, 2), 2048);
  await f.pwrite(bytes(4096, 3), 4096);
  await f.pwrite(bytes(1024, 4), 6 * 4096);
  await f.pwrite(bytes(512, 5), 6 * 4096 + 512);
  const byKey = new Map<string, Uint8Array>();
  const byImage = new Map<string, string>();
  for (let seed = 0; seed < 300; seed++) {
    for (const draw of [{ seed }, { seed, tear: true }, { seed, corrupt: true }]) {
      const state = d.crashState(draw);
      const image = state.image();
      // Buffer.equals: ava's deepEqual takes seconds per 32 KiB array.
      if (!Buffer.from(image).equals(d.crashImage(draw))) t.fail('image differs from crashImage');
      const imageId = Buffer.from(image).toString('base64');
      const known = byKey.get(state.key);
      if (known && !Buffer.from(known).equals(image)) t.fail('one key, two different images');
      byKey.set(state.key, image);
      const keyOfImage = byImage.get(imageId);
      if (keyOfImage && keyOfImage !== state.key) t.fail('one image, two keys');
      byImage.set(imageId, state.key);
    }
  }
  t.true(byKey.size > 20, `only ${byKey.size} distinct states drawn`);
});

test('a crash point is frozen: later writes and syncs change neither its durable image nor its pending writes', async (t) => {
  const d = new SimDevice({ size: 4 * 4096 });
  const f = d.file();
  await f.pwrite(bytes(4096, 1), 0);
  await f.fdatasync();
  await f.pwrite(bytes(4096, 2), 4096);
  const point = d.crashPoint();
  const durable = point.durable.toBytes();
  await f.pwrite(bytes(4096, 3), 8192);
  await f.fdatasync();
  await f.pwrite(bytes(4096, 4), 0);
  await f.fdatasync();
  t.true(Buffer.from(point.durable.toBytes()).equals(durable), 'the durable image changed');
  t.is(point.pending.length, 1);
  t.is(point.pending[0]!.offset, 4096);
  // Its states are the ones the device could leave at that moment.
  const kept = point.imageOf(point.drawKept(false, () => true));
  t.is(kept[4096], 2);
  t.is(kept[0], 1);
  t.is(kept[8192], 0);
  t.true(Buffer.from(point.imageOf(point.drawKept(false, () => false))).equals(durable));
});

test('drawKept keeps exactly the sectors it is told, later writes winning; bytesOf and visit read the same state', async (t) => {
  const d = new SimDevice({ size: 4 * 4096 });
  const f = d.file();
  await f.pwrite(bytes(4096, 5), 0);
  await f.pwrite(bytes(1024, 6), 512);
  const point = d.crashPoint();
  t.is(point.units(true), 8 + 2);
  t.is(point.units(false), 2);
  // Keep sector 1 of the first write and sector 0 of the second (which lands on sector 1 too).
  const asked: string[] = [];
  const drawn = point.drawKept(true, (w, s) => {
    asked.push(`${w}/${s}`);
    return (w === 0 && (s === 1 || s === 2)) || (w === 1 && s === 0);
  });
  t.deepEqual(asked, [...Array.from({ length: 8 }, (_, s) => `0/${s}`), '1/0', '1/1']);
  const image = point.imageOf(drawn);
  t.deepEqual([image[0], image[512], image[1024], image[1536]], [0, 6, 5, 0]);
  t.true(Buffer.from(point.bytesOf(drawn, 256, 2048)).equals(image.subarray(256, 2048)));
  const pieces: Uint8Array[] = [];
  point.visit(drawn, 0, 4 * 4096, (piece) => pieces.push(piece.slice()));
  t.true(Buffer.concat(pieces).equals(image));
});

test('drawKept is the durable image with each kept sector laid on in write order (any writes, any choice)', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ sector: fc.nat(14), sectors: fc.integer({ min: 1, max: 8 }) }), {
        minLength: 1,
        maxLength: 5,
      }),
      fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      async (writes, choice) => {
        const d = new SimDevice({ size: 16 * 512, sectorSize: 512 });
        const f = d.file();
        // A durable image that is not zeros: the lost sectors must show it, not fresh memory.
        await f.pwrite(bytes(16 * 512, 0xaa), 0);
        await f.fdatasync();
        const data = writes.map((w, i) => bytes(Math.min(w.sectors, 16 - w.sector) * 512, i + 1));
        for (const [i, w] of writes.entries()) await f.pwrite(data[i]!, w.sector * 512);
        const point = d.crashPoint();
        let unit = 0;
        const kept = () => choice[unit++ % choice.length]!;
        const expected = bytes(16 * 512, 0xaa);
        let u = 0;
        for (const [i, w] of writes.entries())
          for (let s = 0; s * 512 < data[i]!.length; s++)
            if (choice[u++ % choice.length])
              expected.set(data[i]!.subarray(s * 512, (s + 1) * 512), (w.sector + s) * 512);
        t.true(Buffer.from(point.imageOf(point.drawKept(true, kept))).equals(expected));
      },
    ),
    { numRuns: 200, seed: 20261127 },
  );
});

test('a fault meets a buffered write at its writeback, a direct write when issued', async (t) => {
  // Written inside a drop window, synced after it: the page cache wrote it back once the device
  // was honest again, so it is stored (on a kernel too). Direct: the bio was dropped.
  const buffered = new SimDevice({ size: 8192 });
  const f = buffered.file();
  buffered.arm('drop_writes');
  await f.pwrite(bytes(4096, 3), 0);
  buffered.disarm();
  await f.fdatasync();
  for (const img of images(buffered, 10)) t.is(img[0], 3);

  const direct = new SimDevice({ size: 8192 });
  const g = direct.file({ direct: true });
  direct.arm('drop_writes');
  await g.pwrite(bytes(4096, 3), 0);
  direct.disarm();
  await g.fdatasync();
  for (const img of images(direct, 10)) t.is(img[0], 0);

  // Written before a corruption window, synced inside it: the bio that lands is corrupted.
  const late = new SimDevice({ size: 8192 });
  const h = late.file();
  await h.pwrite(bytes(4096, 1), 0);
  late.arm('corrupt_bio_byte', { corruptByte: 2, corruptValue: 0xee });
  await h.fdatasync();
  const img = late.crashImage({ seed: 1 });
  t.deepEqual([img[0], img[1], img[2]], [1, 0xee, 1]);
});

test('a released device keeps its crash points, does no more I/O, and its page cache starts the next device clean', async (t) => {
  const size = 3 * 4096 + 512;
  const a = new SimDevice({ size });
  const f = a.file();
  await f.pwrite(bytes(4096, 9), 4096);
  await f.fdatasync();
  await f.pwrite(bytes(512, 8), 3 * 4096);
  const point = a.crashPoint();
  a.release();
  t.true(a.isCut);
  const late = await Promise.race([
    f.pread(4096, 0).then(() => 'settled'),
    new Promise((resolve) => setTimeout(() => resolve('pending'), 50)),
  ]);
  t.is(late, 'pending', 'I/O after release never settles');
  t.is(point.durable.toBytes()[4096], 9, 'the crash point still reads its durable image');
  // The next devices of that size reuse the page cache: it must read as theirs.
  const empty = new SimDevice({ size });
  t.deepEqual(await empty.file().pread(size, 0), new Uint8Array(size));
  empty.release();
  const initial = bytes(size, 5);
  const seeded = new SimDevice({ size, initial });
  t.deepEqual(await seeded.file().pread(size, 0), initial);
  t.deepEqual(seeded.durableImage(), initial);
});
