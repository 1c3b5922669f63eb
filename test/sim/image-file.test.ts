import test from 'ava';
import { imageFile } from '../../src/sim/image-file.ts';
import { SimDevice } from '../../src/sim/sim-device.ts';

test("the state's image stays as drawn: reads are copies, writes go to a private copy the later reads see", async (t) => {
  const image = new Uint8Array(16384).map((_, i) => i % 251);
  const before = image.slice();
  const file = imageFile(image);
  t.is(file.size(), 16384);

  const read = await file.pread(4096, 4096);
  t.deepEqual(read, before.subarray(4096, 8192));
  read.fill(0xee); // an engine scribbling on what it read
  t.deepEqual(await file.pread(4096, 4096), before.subarray(4096, 8192));

  await file.pwrite(new Uint8Array(4096).fill(7), 8192);
  t.true((await file.pread(4096, 8192)).every((b) => b === 7));
  t.deepEqual(image, before, 'the image itself is untouched');

  // Many reads in a row (they share slabs) each keep their own bytes.
  const reads = await Promise.all([0, 1, 2, 3].map((p) => file.pread(4096, p * 4096)));
  reads.forEach((r, p) => t.is(r[1], p === 2 ? 7 : before[p * 4096 + 1]));

  t.is((await file.pread(4096, 14336)).length, 2048, 'a read past the end is short');
  await t.throwsAsync(file.pwrite(new Uint8Array(4096), 14336), { message: /ENOSPC/ });
});

test('a drawn crash state is read in place, and built only when written', async (t) => {
  const device = new SimDevice({ size: 4 * 4096 });
  const f = device.file();
  await f.pwrite(new Uint8Array(4096).fill(1), 0);
  await f.fdatasync();
  await f.pwrite(new Uint8Array(4096).fill(2), 4096);
  const point = device.crashPoint();
  const drawn = point.drawKept(false, () => true);
  let built = 0;
  const source = point.source(drawn);
  const file = imageFile({ ...source, materialize: () => (built++, source.materialize()) });
  t.deepEqual(await file.pread(8192, 0), point.imageOf(drawn).subarray(0, 8192));
  t.is(built, 0, 'reads build nothing');
  await file.pwrite(new Uint8Array(512).fill(9), 8192);
  t.is(built, 1);
  t.is((await file.pread(4096, 8192))[0], 9);
  t.is((await file.pread(4096, 4096))[0], 2, 'the rest of the state is still there');
  t.is(point.imageOf(drawn)[8192], 0, 'the drawn state itself is untouched');
});
