import test from 'ava';
import { cowEngine } from '../../src/engine/cow.ts';
import { assertNoAnomaly, findCounterexample, options, withBug } from './sim-helpers.ts';

test('cow: zero lost-ack and zero non-atomic over ≥1,000 distinct simulated crash states (torn sectors included)', async (t) => {
  const states = await assertNoAnomaly(
    { mode: cowEngine, options: options() },
    ['lost-ack', 'non-atomic', 'phantom'],
    { distinctStates: 1000, maxRuns: 800 },
  );
  t.log(`${states} distinct crash states checked`);
  t.true(states >= 1000, `${states} distinct crash states`);
});

test('cow: a failed commit (EIO) is never acknowledged and leaves the last commit intact', async (t) => {
  const states = await assertNoAnomaly(
    { mode: cowEngine, options: options(), fault: { kind: 'error_writes', atIo: 3, untilIo: 9 } },
    ['ack-after-eio', 'lost-ack', 'non-atomic'],
    { distinctStates: 300, maxRuns: 600 },
  );
  t.true(states >= 300, `${states} distinct crash states`);
});

test('planted bug cow-meta-before-data-sync is caught, with a shrunk counterexample', async (t) => {
  const found = await findCounterexample(
    { mode: cowEngine, options: withBug(options(), 'cow-meta-before-data-sync') },
    ['non-atomic', 'lost-ack'],
  );
  t.truthy(found, 'fast-check must find the bug');
  t.log(
    `shrunk to ${found!.writes} write(s), cut after ${found!.cut} I/Os: ${JSON.stringify(found!.ops)}`,
  );
  t.log(found!.anomalies[0]!.message);
  t.true(found!.writes <= 4);
});

test('planted bug cow-overwrite-live is caught', async (t) => {
  const found = await findCounterexample(
    { mode: cowEngine, options: withBug(options(), 'cow-overwrite-live') },
    ['non-atomic', 'lost-ack'],
  );
  t.truthy(found);
  t.log(found!.anomalies[0]!.message);
  t.true(found!.writes <= 4);
});

// A corrupting device under a correct copy-on-write engine: commits acknowledged while every
// write is stored damaged. The engine, believing them durable, rightly reuses the meta slot and
// pages of the last commit made before the corruption; the device destroyed them, not the engine.
// Byte 40 of every write: inside a page's value (after the 32-byte header).
const corruptingFrom = { kind: 'corrupt_bio_byte', min: 2, max: 30, corruptByte: 40 } as const;

test('cow: corruption windows spanning many commits show no anomaly (the device is not blamed on the engine)', async (t) => {
  const states = await assertNoAnomaly(
    { mode: cowEngine, options: options(), faultFrom: corruptingFrom, maxOps: 24 },
    ['lost-ack', 'non-atomic', 'phantom', 'corrupt-undetected', 'unrecoverable'],
    { distinctStates: 1000, maxRuns: 800 },
  );
  t.log(`${states} distinct crash states checked`);
  t.true(states >= 1000, `${states} distinct crash states`);
});

for (const bug of ['cow-overwrite-live', 'no-checksum'] as const) {
  test(`planted bug ${bug} is still caught under corruption windows`, async (t) => {
    const found = await findCounterexample(
      { mode: cowEngine, options: withBug(options(), bug), faultFrom: corruptingFrom, maxOps: 24 },
      ['non-atomic', 'lost-ack', 'corrupt-undetected', 'phantom', 'unrecoverable'],
    );
    t.truthy(found, 'fast-check must find the bug');
    t.log(
      `${found!.writes} write(s), fault at I/O ${found!.faultAt}, cut at ${found!.cut}: ${found!.anomalies[0]!.message}`,
    );
  });
}
