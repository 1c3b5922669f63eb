import test from 'ava';
import fc from 'fast-check';
import { faultPointArb, makeValue, workloadArb } from '../../src/oracles/arbitraries.ts';

test('makeValue is unique per id and padded', (t) => {
  t.is(makeValue(7), 'w7-000007');
  t.is(makeValue(7, 12), 'w7-000007...');
  t.not(makeValue(1), makeValue(10));
});

test('workloads: ids ascend, values unique, pages in range, transactions closed', (t) => {
  fc.assert(
    fc.property(
      workloadArb({ pages: 5, maxOps: 40, transactional: true, maxTxnSize: 4, marks: true }),
      (ops) => {
        const ids = ops.map((o) => o.id);
        const values = ops.flatMap((o) => (o.op === 'write' ? [o.value] : []));
        let open = 0;
        for (const o of ops) {
          if (o.op === 'write') open++;
          if (o.op === 'commit') open = 0;
          if (open > 4) return false;
        }
        return (
          ids.every((id, i) => i === 0 || id > ids[i - 1]!) &&
          new Set(values).size === values.length &&
          ops.every((o) => o.op !== 'write' || (o.page >= 0 && o.page < 5)) &&
          ops.at(-1)?.op === 'commit'
        );
      },
    ),
  );
  t.pass();
});

test('same seed, same workload (replay depends on it)', (t) => {
  const arb = workloadArb({ pages: 8, minOps: 20, maxOps: 20 });
  t.deepEqual(fc.sample(arb, { seed: 42, numRuns: 1 }), fc.sample(arb, { seed: 42, numRuns: 1 }));
  t.is(fc.sample(arb, { seed: 42, numRuns: 1 })[0]!.length, 20);
});

test('fault points stay in range', (t) => {
  fc.assert(
    fc.property(
      fc.nat(50).chain((n) => faultPointArb(n).map((p) => [n, p] as const)),
      ([n, p]) => p >= 0 && p <= n,
    ),
  );
  t.pass();
});
