import test from 'ava';
import { fsyncEngine } from '../../src/engine/fsync.ts';
import { assertNoAnomaly, findCounterexample, options, withBug } from './sim-helpers.ts';

test('fsync: zero lost-ack over ≥1,000 distinct simulated crash states (torn sectors included)', async (t) => {
  const states = await assertNoAnomaly(
    { mode: fsyncEngine, options: options() },
    ['lost-ack', 'phantom', 'torn-undetected'],
    { distinctStates: 1000, maxRuns: 800 },
  );
  t.log(`${states} distinct crash states checked`);
  t.true(states >= 1000, `${states} distinct crash states`);
});

test('fsync: error_writes windows make ops fail, never acknowledged', async (t) => {
  const states = await assertNoAnomaly(
    {
      mode: fsyncEngine,
      options: options(),
      fault: { kind: 'error_writes', atIo: 4, untilIo: 12 },
    },
    ['ack-after-eio', 'lost-ack'],
    { distinctStates: 300, maxRuns: 600 },
  );
  t.true(states >= 300, `${states} distinct crash states`);
});

test('planted bug ack-before-sync is caught, with a shrunk counterexample', async (t) => {
  const found = await findCounterexample(
    { mode: fsyncEngine, options: withBug(options(), 'ack-before-sync') },
    ['lost-ack'],
  );
  t.truthy(found, 'fast-check must find the bug');
  t.log(
    `shrunk to ${found!.writes} write(s), cut after ${found!.cut} I/Os: ${JSON.stringify(found!.ops)}`,
  );
  t.log(found!.anomalies[0]!.message);
  t.true(found!.writes <= 4);
});

test('planted bug ignore-eio (fsyncgate) is caught as ack-after-eio', async (t) => {
  const found = await findCounterexample(
    {
      mode: fsyncEngine,
      options: withBug(options(), 'ignore-eio'),
      fault: { kind: 'error_writes', atIo: 0, untilIo: 6 },
    },
    ['ack-after-eio'],
  );
  t.truthy(found);
  t.log(found!.anomalies[0]!.message);
  t.true(found!.writes <= 4);
});

test('planted bug no-checksum returns torn pages as data: torn-undetected', async (t) => {
  const found = await findCounterexample(
    { mode: fsyncEngine, options: withBug(options(), 'no-checksum') },
    ['torn-undetected'],
  );
  t.truthy(found);
  t.log(found!.anomalies[0]!.message);
});
