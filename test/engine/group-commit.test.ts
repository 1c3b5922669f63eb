import test from 'ava';
import { virtualClock } from '../../src/engine/clock.ts';
import { groupCommitEngine } from '../../src/engine/group-commit.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';
import { SimDevice } from '../../src/sim/sim-device.ts';
import { assertNoAnomaly, findCounterexample, options, withBug } from './sim-helpers.ts';

for (const writers of [1, 4, 16]) {
  test(`group-commit, ${writers} writer(s): zero lost-ack over ≥1,000 distinct simulated crash states`, async (t) => {
    const states = await assertNoAnomaly(
      { mode: groupCommitEngine, options: options({ writers, batchMaxOps: 6 }) },
      ['lost-ack', 'phantom', 'torn-undetected'],
      { distinctStates: 1000, maxRuns: 800 },
    );
    t.log(`${states} distinct crash states checked`);
    t.true(states >= 1000, `${states} distinct crash states`);
  });
}

test('group-commit fails a whole batch on EIO and acknowledges none of it', async (t) => {
  const states = await assertNoAnomaly(
    {
      mode: groupCommitEngine,
      options: options({ writers: 4 }),
      fault: { kind: 'error_writes', atIo: 2, untilIo: 10 },
    },
    ['ack-after-eio', 'lost-ack'],
    { distinctStates: 300, maxRuns: 600 },
  );
  t.true(states >= 300, `${states} distinct crash states`);
});

test('planted bug group-ack-before-sync is caught, with a shrunk counterexample', async (t) => {
  const found = await findCounterexample(
    { mode: groupCommitEngine, options: withBug(options({ writers: 4 }), 'group-ack-before-sync') },
    ['lost-ack'],
  );
  t.truthy(found, 'fast-check must find the bug');
  t.log(
    `shrunk to ${found!.writes} write(s), cut after ${found!.cut} I/Os: ${JSON.stringify(found!.ops)}`,
  );
  t.log(found!.anomalies[0]!.message);
  t.true(found!.writes <= 4);
});

/** Runs 16 writes to distinct pages through `writers` writers; returns how many fdatasyncs it took. */
async function syncsFor(writers: number, batchWindowUs: number): Promise<number> {
  const opts = options({ writers, batchWindowUs, batchMaxOps: 64, pages: 16 });
  const device = new SimDevice({ size: groupCommitEngine.storeSize(opts) });
  const ops: WorkloadOp[] = Array.from({ length: 16 }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: i,
    value: `w${i + 1}`,
  }));
  async function* input(): AsyncGenerator<WorkloadOp> {
    yield* ops;
  }
  let acks = 0;
  await groupCommitEngine.run(
    { file: device.file(), clock: virtualClock(), options: opts },
    input(),
    (e) => {
      if (e.type === 'ok') acks++;
    },
  );
  if (acks !== 16) throw new Error(`expected 16 acks, got ${acks}`);
  return device.syncs;
}

test('a batch waits, up to its window, for writers between ops: 4 writers sync once per 4 writes', async (t) => {
  t.is(await syncsFor(4, 1000), 4);
  t.is(await syncsFor(16, 1000), 1);
  t.is(await syncsFor(1, 1000), 16);
  // With no window a batch holds only the writes already queued when the committer looks.
  t.true((await syncsFor(4, 0)) > 4);
});
