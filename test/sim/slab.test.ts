import test from 'ava';
import { Slab } from '../../src/sim/slab.ts';

test('carved buffers have the length asked for and never overlap, also across slabs', (t) => {
  const slab = new Slab(100);
  const carved = [30, 50, 40, 150, 10].map((n, i) => slab.carve(n).fill(i + 1));
  t.deepEqual(
    carved.map((b) => b.length),
    [30, 50, 40, 150, 10],
  );
  // Each still holds only its own fill: no later carve wrote over an earlier one.
  carved.forEach((b, i) =>
    t.true(
      b.every((x) => x === i + 1),
      `buffer ${i}`,
    ),
  );
});
