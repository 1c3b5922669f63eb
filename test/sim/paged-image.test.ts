import test from 'ava';
import fc from 'fast-check';
import { PagedImage } from '../../src/sim/paged-image.ts';

// PagedImage against a plain buffer: every version reads as the writes laid in order on the
// one before, versions never change, and a version shares the pages its writes missed.

const write = (length: number) =>
  fc
    .record({ offset: fc.nat({ max: length - 1 }), size: fc.integer({ min: 1, max: 9000 }) })
    .chain(({ offset, size }) =>
      fc
        .uint8Array({
          minLength: Math.min(size, length - offset),
          maxLength: Math.min(size, length - offset),
        })
        .map((data) => ({ offset, data })),
    );

test('each version reads as its writes laid on the one before; earlier versions stay as they were', (t) => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 5 * 4096 + 100 })
        .chain((length) =>
          fc.tuple(
            fc.constant(length),
            fc.array(fc.array(write(length), { maxLength: 4 }), { maxLength: 5 }),
            fc.nat({ max: length }),
            fc.nat({ max: length }),
          ),
        ),
      ([length, syncs, a, b]) => {
        let image = PagedImage.zeros(length, 4096);
        let flat = new Uint8Array(length);
        const versions: { image: PagedImage; flat: Uint8Array }[] = [{ image, flat }];
        for (const writes of syncs) {
          image = image.with(writes);
          flat = flat.slice();
          for (const w of writes) flat.set(w.data, w.offset);
          versions.push({ image, flat });
        }
        for (const v of versions) {
          t.deepEqual(v.image.toBytes(), v.flat);
          const [start, end] = a <= b ? [a, b] : [b, a];
          const out = new Uint8Array(end - start + 3);
          v.image.readInto(start, end, out, 3);
          t.deepEqual(out.subarray(3), v.flat.subarray(start, end));
          const pieces: number[] = [];
          v.image.visit(start, end, (bytes, offset) => {
            t.deepEqual(bytes, v.flat.subarray(offset, offset + bytes.length));
            pieces.push(offset, bytes.length);
          });
          // The pieces tile [start, end) in order.
          let at = start;
          for (let i = 0; i < pieces.length; i += 2) {
            t.is(pieces[i], at);
            at += pieces[i + 1]!;
          }
          t.is(at, end);
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('a version shares the pages its writes did not touch, and copies the ones they did', (t) => {
  const before = PagedImage.of(new Uint8Array(4 * 4096).fill(7), 4096);
  const after = before.with([{ offset: 4096 + 10, data: new Uint8Array(4096) }]);
  t.is(after.page(0), before.page(0));
  t.not(after.page(1), before.page(1));
  t.not(after.page(2), before.page(2));
  t.is(after.page(3), before.page(3));
  t.is(before.page(1)[10], 7, 'the earlier version was not written');
  t.is(after.page(1)[10], 0);
  t.throws(() => before.with([{ offset: 4 * 4096 - 1, data: new Uint8Array(2) }]), {
    instanceOf: RangeError,
  });
});
