import test from 'ava';
import { slottedEngine, physicalPageOf } from '../../src/engine/slotted.ts';
import { decodeSlotted, encodeSlotted } from '../../src/engine/slotted/page.ts';
import fc from 'fast-check';
import type { WorkloadOp } from '../../src/model/workload.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { runSimTrial } from '../../src/sim/sim-trial.ts';
import { assertNoAnomaly, options } from './sim-helpers.ts';

// Seed item 2: many variable-length records per page, updated in place. 6 keys share one
// physical page here, so a torn page write reaches records acknowledged long before.
const unprotected = options({ protection: 'none' });
const doublewrite = options({ protection: 'doublewrite' });

test('a slotted page round-trips its records; a page torn at a sector boundary fails its checksum', (t) => {
  const records = new Map([
    [0, 'w1-short'],
    [5, 'w2-a-much-longer-value-of-another-size'],
    [15, ''],
  ]);
  const image = encodeSlotted(new Uint8Array(4096), { page: 1, lsn: 7n, records });
  const d = decodeSlotted(image);
  t.true(d.state === 'ok' && d.page.lsn === 7n && d.page.records.get(5) === records.get(5));
  const next = encodeSlotted(new Uint8Array(4096), {
    page: 1,
    lsn: 8n,
    records: new Map([...records, [3, 'w3']]),
  });
  for (let sectors = 1; sectors < 8; sectors++) {
    const torn = new Uint8Array(image);
    torn.set(next.subarray(0, sectors * 512));
    t.like(decodeSlotted(torn), { state: 'corrupt' }, `torn after ${sectors} sectors`);
  }
  t.is(physicalPageOf(15), 1);
  t.is(physicalPageOf(16), 2);
});

test('slotted without protection: a torn in-place write loses records acknowledged before it (collateral loss), shrunk to a minimal history', async (t) => {
  // The crash comes right after the last write reached the device, before its sync: that
  // write is the one in flight, and its page may be torn at any sector.
  const lost = (ops: WorkloadOp[], seed: number) =>
    runSimTrial({
      mode: slottedEngine,
      options: unprotected,
      ops,
      cutAtIo: 2 * ops.filter((o) => o.op === 'write').length - 1,
      crashStates: 20,
      seed,
      tear: true,
    }).then((r) =>
      r.states
        .flatMap((s) => s.verdict.anomalies)
        .find((a) => a.kind === 'lost-ack' && /collateral loss/.test(a.message)),
    );
  const result = await fc.check(
    fc.asyncProperty(
      workloadArb({ pages: 6, maxOps: 12, valueSize: 9, valueSizeMax: 120 }),
      fc.nat(),
      async (ops, seed) => (await lost(ops, seed)) === undefined,
    ),
    { numRuns: 200, seed: 20261126 },
  );
  t.true(result.failed, 'fast-check must find the collateral loss');
  const [ops, seed] = result.counterexample!;
  const anomaly = (await lost(ops, seed))!;
  t.log(`shrunk to ${JSON.stringify(ops)}`);
  t.log(anomaly.message);
  t.regex(anomaly.message, /write \d+ to page \d+, in flight after it, rewrote that physical page/);
  t.is(ops.length, 2, 'two writes: one acknowledged, one torn');
  const pages = ops.map((o) => (o.op === 'write' ? o.page : -1));
  t.not(pages[0], pages[1], 'two keys of one physical page: the lost one was never written again');
});

test('slotted with a doublewrite area: no lost ack, no undetected tear, over 2,000 distinct torn crash states', async (t) => {
  const states = await assertNoAnomaly(
    { mode: slottedEngine, options: doublewrite, tear: true, valueSizeMax: 120, maxOps: 24 },
    ['lost-ack', 'torn-undetected', 'phantom', 'unrecoverable'],
    { distinctStates: 2000, maxRuns: 1200 },
  );
  t.log(`${states} distinct crash states checked`);
  t.true(states >= 2000, `${states} distinct crash states`);
});

test('every built-in mode declares the traits the rest of powercut reads without loading it', async (t) => {
  const { engineModes } = await import('../../src/engine/registry.ts');
  const { engineTraits } = await import('../../src/engine/engine.ts');
  for (const [name, mode] of Object.entries(engineModes))
    t.deepEqual(
      { transactional: mode.transactional, directLayout: mode.directLayout },
      engineTraits[name as keyof typeof engineTraits],
      name,
    );
});
