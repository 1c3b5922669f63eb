import test from 'ava';
import type { EngineOptions, PlantedBug } from '../../../src/engine/engine.ts';
import { engineModes } from '../../../src/engine/registry.ts';
import { stateJudge } from '../../../src/harness/trial/state-judge.ts';
import { rawBytesNeeded } from '../../../src/harness/trial/recovered-state.ts';
import { startMark } from '../../../src/logwrites/format.ts';
import { recordBuiltin } from '../../../src/logwrites/memory-recording.ts';
import { exploreStates, parseExploreMode } from '../../../src/logwrites/states.ts';
import { screenStoreStates } from '../../../src/logwrites/store-screen.ts';
import type { WorkloadOp } from '../../../src/model/workload.ts';

/** Records fsync in memory, screens every `explore` state of it and judges each one. */
async function screenAndJudge(explore: string, bug?: PlantedBug) {
  const pages = 4;
  const options: EngineOptions = {
    pageSize: 4096,
    pages,
    writers: 1,
    batchWindowUs: 0,
    batchMaxOps: 1,
    ...(bug ? { bug } : {}),
  };
  const mode = engineModes.fsync;
  const workload: WorkloadOp[] = Array.from({ length: 12 }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: i % pages,
    value: `w${i + 1}`,
  }));
  const { entries, readLog, history, storeBytes } = await recordBuiltin(mode, options, workload);
  const from = entries.findIndex((e) => e.mark === startMark) + 1;
  const { states } = exploreStates(entries, parseExploreMode(explore)!, {
    maxStates: 10_000,
    seed: 1,
    from,
  });
  const judge = stateJudge({
    entries,
    states,
    ops: workload,
    history,
    transactional: false,
    engine: {
      kind: 'builtin',
      mode: 'fsync',
      direct: false,
      pageSize: 4096,
      writers: 1,
      batchWindowUs: 0,
      batchMax: 1,
      ...(bug ? { bug } : {}),
    },
    pages,
  });
  const { reports, distinct } = await screenStoreStates(
    {
      readLog,
      entries,
      sectorSize: 512,
      extents: [{ fileSector: 0, start: 0, sectors: storeBytes / 512 }],
      storeBytes,
      engine: { mode: 'fsync', options },
      rawBytes: rawBytesNeeded(4096, pages),
    },
    states,
  );
  return { states, distinct, judged: reports.map((r) => judge(r, 'host')) };
}

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
