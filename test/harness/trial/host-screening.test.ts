import test from 'ava';
import fc from 'fast-check';
import { seededSample } from '../../../src/harness/trial/host-screening.ts';

test('seededSample: n distinct items of the list, the same ones for the same seed', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(), { maxLength: 60 }),
      fc.nat(80),
      fc.integer(),
      (items, n, seed) => {
        const sample = seededSample(items, n, seed);
        t.is(sample.length, Math.min(n, items.length));
        t.is(new Set(sample).size, sample.length);
        t.true(sample.every((x) => items.includes(x)));
        t.deepEqual(seededSample(items, n, seed), sample);
      },
    ),
  );
});
