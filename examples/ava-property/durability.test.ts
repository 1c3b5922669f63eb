// "Every acknowledged write survives a drop window", as a property over generated workloads,
// checked on a real kernel with dm-flakey (the embedded QEMU guest, booted once for this file).
import test from 'ava';
import {
  assertVerdict,
  fc,
  startTarget,
  trial,
  workloadArb,
  type Target,
  type TrialSpec,
} from 'powercut';

let target: Target;
test.before(async () => {
  target = await startTarget('auto');
});
test.after.always(async () => {
  await target?.teardown();
});

const workloads = (transactional = false) =>
  workloadArb({ pages: 8, minOps: 4, maxOps: 16, transactional, maxTxnSize: 3 });
const dropWindow: TrialSpec['fault'] = { kind: 'drop_writes', arm: { afterOp: 3 } };

for (const mode of ['fsync', 'group-commit', 'cow'] as const) {
  test.serial(`${mode}: every acknowledged write survives a drop window`, async (t) => {
    await fc.assert(
      fc.asyncProperty(workloads(mode === 'cow'), async (ops) => {
        const r = await trial(target, { engine: { mode, writers: 4 }, ops, fault: dropWindow });
        assertVerdict(r.verdict, { 'lost-ack': 'none', 'non-atomic': 'none', phantom: 'none' });
      }),
      { numRuns: 2, seed: 42 },
    );
    t.pass();
  });
}

test.serial(
  'a broken engine (acks before fdatasync) is caught, with a shrunk counterexample',
  async (t) => {
    const broken: TrialSpec['engine'] = {
      upload: new URL('./lazy-engine.mjs', import.meta.url).pathname,
      command: 'node /opt/powercut/user/lazy-engine.mjs',
    };
    const result = await fc.check(
      fc.asyncProperty(workloads(), async (ops) => {
        const r = await trial(target, { engine: broken, ops, fault: dropWindow });
        assertVerdict(r.verdict, { 'lost-ack': 'none' });
      }),
      { numRuns: 3, seed: 42 },
    );
    t.true(result.failed, 'the property must fail for the broken engine');
    const [ops] = result.counterexample!;
    const writes = ops.filter((o) => o.op === 'write');
    t.log(
      `shrunk counterexample (${writes.length} writes after ${result.numShrinks} shrinks): ${JSON.stringify(ops)}`,
    );
    t.log(String((result.errorInstance as Error).message));
    t.true(writes.length <= 4, 'a handful of operations');
  },
);
