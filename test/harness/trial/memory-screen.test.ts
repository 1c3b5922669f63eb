import test from 'ava';
import type { PlantedBug } from '../../../src/engine/engine.ts';
import { screenInMemory } from '../../../src/harness/trial/memory-screen.ts';
import type { WorkloadOp } from '../../../src/model/workload.ts';

/** Records fsync in memory, screens every `explore` state of it and judges each one. */
const screenAndJudge = (
  explore: string,
  bug?: PlantedBug,
  mode: 'fsync' | 'group-commit' = 'fsync',
) => {
  const pages = 4;
  const workload: WorkloadOp[] = Array.from({ length: 12 }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: i % pages,
    value: `w${i + 1}`,
  }));
  return screenInMemory({
    engine: {
      kind: 'builtin',
      mode,
      direct: false,
      pageSize: 4096,
      writers: 1,
      batchWindowUs: 0,
      batchMax: 1,
      ...(bug ? { bug } : {}),
    },
    pages,
    workload,
    explore,
    maxStates: 10_000,
  });
};

test('screen: store and the state judge on an in-process recording: fsync passes every torn and reordered state', async (t) => {
  for (const explore of ['tear:3', 'reorder:1', 'marks']) {
    const { states, distinct, judged } = await screenAndJudge(explore);
    t.true(states.length >= 13, `${explore}: ${states.length} states`);
    t.true(distinct > 1, `${explore}: ${distinct} distinct stores`);
    const failing = judged.filter((j) => !j.state.valid);
    t.deepEqual(
      failing.map((j) => `${j.state.id}: ${j.state.anomalies[0]?.message}`),
      [],
      explore,
    );
    // Each state is judged against the acks before it, not the whole run's.
    t.true(judged.some((j) => j.state.acked === 0) && judged.some((j) => j.state.acked === 12));
  }
});

test('screen: store and the state judge catch a planted ack-before-sync: a state after its ack mark lost the write', async (t) => {
  const { judged } = await screenAndJudge('marks', 'ack-before-sync');
  const lost = judged.filter((j) => j.state.anomalies.some((a) => a.kind === 'lost-ack'));
  t.true(lost.length > 0, 'some state after an ack mark is missing the acknowledged write');
  t.log(lost[0]!.state.anomalies[0]!.message);
});

test('misdirect:2 on an in-process recording: a correct fsync and group commit pass every state (the pages the device took excused); a misdirected write is there', async (t) => {
  const group = await screenAndJudge('misdirect:2', undefined, 'group-commit');
  t.deepEqual(
    group.judged.filter((j) => !j.state.valid).map((j) => j.state.anomalies[0]?.message),
    [],
    'group commit',
  );
  const { states, judged } = await screenAndJudge('misdirect:2');
  const misdirected = states.filter((s) => s.misdirect);
  t.true(misdirected.length >= 24, `${misdirected.length} misdirected states (2 per write)`);
  t.deepEqual(
    judged
      .filter((j) => !j.state.valid)
      .map((j) => `${j.state.id}: ${j.state.anomalies[0]?.message}`),
    [],
  );
  // Not vacuous: the engine itself reports pages it found misplaced (its page check).
  t.true(
    judged.some((j) => j.verdict.dump.some((e) => 'error' in e && e.error === 'misdirected')),
    'some state reads a page holding another page',
  );
});

test('misdirect:2 catches no-checksum: a page holding another page is returned as data', async (t) => {
  const { judged } = await screenAndJudge('misdirect:2', 'no-checksum');
  const phantom = judged.filter((j) => j.state.anomalies.some((a) => a.kind === 'phantom'));
  t.true(phantom.length > 0, 'some state returns a misdirected page as the page it landed on');
  t.regex(
    phantom[0]!.state.anomalies.find((a) => a.kind === 'phantom')!.message,
    /misdirected write/,
  );
  t.log(phantom[0]!.state.anomalies[0]!.message);
});
