import test from 'ava';
import { groupCommitEngine } from '../../src/engine/group-commit.ts';
import { assertNoAnomaly, findCounterexample, options, withBug } from './sim-helpers.ts';

for (const writers of [1, 4, 16]) {
  test(`group-commit, ${writers} writer(s): zero lost-ack over ≥1,000 simulated crash states`, async (t) => {
    const states = await assertNoAnomaly(
      { mode: groupCommitEngine, options: options({ writers, batchMaxOps: 6 }) },
      ['lost-ack', 'phantom', 'torn-undetected'],
      60,
    );
    t.log(`${states} crash states checked`);
    t.true(states >= 1000);
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
    40,
  );
  t.true(states >= 800);
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
