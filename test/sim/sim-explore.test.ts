import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { EngineMode, EngineOptions, PlantedBug } from '../../src/engine/engine.ts';
import { engineModes } from '../../src/engine/registry.ts';
import type { AnomalyKind } from '../../src/model/verdict.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { exploreSimRun, recordCuts, type SimExploreInput } from '../../src/sim/sim-explore.ts';
import { recoverAndCheck, runUntilCut } from '../../src/sim/sim-trial.ts';
import { HistoryIndex } from '../../src/oracles/history-index.ts';

const options = (o: Partial<EngineOptions> = {}): EngineOptions => ({
  pageSize: 4096,
  pages: 6,
  writers: 3,
  batchWindowUs: 200,
  batchMaxOps: 8,
  ...o,
});

const workload = (mode: EngineMode, seed: number, maxOps = 16) =>
  fc.sample(workloadArb({ pages: 6, maxOps, transactional: mode.transactional, maxTxnSize: 4 }), {
    seed,
    numRuns: 1,
  })[0]!;

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

// The fault windows the exploration tests run under (I/O counts of the run).
const dropWindow = { kind: 'drop_writes' as const, atIo: 3, untilIo: 9 };
const corruptWindow = { kind: 'corrupt_bio_byte' as const, atIo: 1, untilIo: 7, corruptByte: 40 };

test('a cut recorded in the one uncut run is the device and history a run cut there leaves', async (t) => {
  // The explorer's premise: the engine is deterministic on the virtual clock, so the run's
  // prefix up to I/O k is what a run cut before I/O k did. Every cut of every engine, with and
  // without a fault window, against a real cut run.
  let compared = 0;
  for (const [name, mode] of Object.entries(engineModes)) {
    for (let seed = 0; seed < 4; seed++) {
      const ops = workload(mode, seed);
      const fault = seed % 2 ? dropWindow : undefined;
      const input = { mode, options: options(), ops, ...(fault ? { fault } : {}) };
      const { cuts, events } = await recordCuts(input);
      for (const cut of cuts) {
        const { device, events: cutEvents } = await runUntilCut({ ...input, cutAtIo: cut.io });
        const point = device.crashPoint();
        const where = `${name} seed ${seed} cut ${cut.io}`;
        if (!same(point.durable.toBytes(), cut.point.durable.toBytes()))
          t.fail(`${where}: durable image differs`);
        const a = point.pending;
        const b = cut.point.pending;
        if (
          a.length !== b.length ||
          a.some((w, i) => w.offset !== b[i]!.offset || !same(w.data, b[i]!.data))
        )
          t.fail(`${where}: pending writes differ`);
        const before = events.slice(0, cut.events);
        if (cut.io === 0) {
          // cutAfterIo(0) cuts before the engine starts; the explorer's first cut comes after
          // what the engine emitted before its first I/O call: invokes only, nothing acked.
          t.deepEqual(cutEvents, []);
          if (before.some((e) => e.type !== 'invoke' && e.type !== 'mark'))
            t.fail(`${where}: an event other than an invoke before the first I/O`);
        } else t.deepEqual(cutEvents, before, `${where}: history differs`);
        compared++;
      }
    }
  }
  t.log(`${compared} cut points compared`);
  t.true(compared > 200);
});

test('every state checked is distinct (image and history), and its in-memory verdict is the file path verdict', async (t) => {
  let states = 0;
  let duplicates = 0;
  for (const name of ['fsync', 'group-commit', 'plain', 'cow', 'slotted'] as const) {
    const mode = engineModes[name];
    for (let seed = 0; seed < 3; seed++) {
      const r = await exploreSimRun({
        mode,
        options: options(),
        ops: workload(mode, seed),
        statesPerCut: 6,
        seed,
        tear: true,
      });
      states += r.states.length;
      duplicates += r.duplicates;
      const byHistory = new Map<number, Uint8Array[]>();
      for (const s of r.states) {
        const images = byHistory.get(s.history.events.length) ?? [];
        if (images.some((i) => same(i, s.image()))) t.fail(`${name}: one state checked twice`);
        images.push(s.image());
        byHistory.set(s.history.events.length, images);
      }
      // The in-memory dump (dumpImage: memoized page reads) against recover + dump through
      // a file over the whole image, state by state.
      for (const s of r.states.filter((_, i) => i % 3 === 0)) {
        const index = new HistoryIndex(s.history);
        const viaFile = await recoverAndCheck(mode, options(), s.image(), index, s.seed);
        t.deepEqual(s.dump, viaFile.dump, `${name}: dump differs`);
        t.deepEqual(s.verdict, viaFile.verdict, `${name}: verdict differs`);
      }
    }
  }
  t.log(`${states} distinct states, ${duplicates} repeated draws`);
  t.true(states > 300);
});

const caught = async (
  mode: EngineMode,
  bug: PlantedBug | undefined,
  kinds: readonly AnomalyKind[],
  runs: number,
) => {
  let states = 0;
  for (let seed = 0; seed < runs; seed++) {
    const r = await exploreSimRun({
      mode,
      options: options(bug ? { bug } : {}),
      ops: workload(mode, seed, 20),
      statesPerCut: 8,
      seed,
      tear: true,
    });
    states += r.states.length;
    const bad = r.states.find((s) => s.verdict.anomalies.some((a) => kinds.includes(a.kind)));
    if (bad) return { seed, states, bad };
  }
  return { states, bad: undefined };
};

for (const [name, bug, kinds] of [
  ['fsync', 'ack-before-sync', ['lost-ack']],
  ['group-commit', 'group-ack-before-sync', ['lost-ack']],
  ['fsync', 'no-checksum', ['torn-undetected']],
  ['cow', 'cow-meta-before-data-sync', ['non-atomic', 'lost-ack']],
] as const)
  test(`planted ${bug} (${name}) is caught in a few explored runs`, async (t) => {
    const r = await caught(engineModes[name], bug, kinds, 10);
    t.truthy(r.bad, `not caught in ${r.states} states`);
    t.log(`run ${r.seed}, after ${r.states} states: ${r.bad?.verdict.anomalies[0]?.message}`);
  });

for (const name of ['fsync', 'group-commit', 'cow'] as const)
  test(`${name} stays clean over ≥1,000 explored distinct states (torn sectors)`, async (t) => {
    const kinds: AnomalyKind[] = ['lost-ack', 'phantom', 'torn-undetected', 'non-atomic'];
    let states = 0;
    for (let seed = 0; states < 1000 && seed < 200; seed++) {
      const mode = engineModes[name];
      const r = await exploreSimRun({
        mode,
        options: options(),
        ops: workload(mode, 1000 + seed, 20),
        statesPerCut: 8,
        seed,
        tear: true,
      });
      states += r.states.length;
      const bad = r.states.find((s) => s.verdict.anomalies.some((a) => kinds.includes(a.kind)));
      if (bad) t.fail(bad.verdict.anomalies.map((a) => a.message).join('\n'));
    }
    t.true(states >= 1000, `${states} states`);
  });

/**
 * Explores `seeds` runs of `mode` under each fault window; fails the test on any anomaly of
 * `kinds`. Returns the distinct states checked.
 */
async function statesUnderFaults(
  t: ExecutionContext,
  mode: EngineMode,
  o: EngineOptions,
  faults: readonly NonNullable<SimExploreInput['fault']>[],
  kinds: readonly AnomalyKind[],
  seeds: number,
  maxOps: number,
): Promise<number> {
  let states = 0;
  for (const fault of faults)
    for (let seed = 0; seed < seeds; seed++) {
      const r = await exploreSimRun({
        mode,
        options: o,
        ops: workload(mode, seed, maxOps),
        statesPerCut: 6,
        seed,
        tear: true,
        fault,
      });
      states += r.states.length;
      const bad = r.states.find((s) => s.verdict.anomalies.some((a) => kinds.includes(a.kind)));
      if (bad)
        t.fail(
          `${mode.name} ${fault.kind}: ${bad.verdict.anomalies.map((a) => a.message).join('\n')}`,
        );
    }
  return states;
}

test('under fault windows: fsync stays clean, and the planted ignore-eio (fsyncgate) is caught', async (t) => {
  const kinds: AnomalyKind[] = ['lost-ack', 'ack-after-eio', 'phantom', 'torn-undetected'];
  const faults = [
    { kind: 'error_writes' as const, atIo: 2, untilIo: 8 },
    dropWindow,
    corruptWindow,
  ];
  const states = await statesUnderFaults(t, engineModes.fsync, options(), faults, kinds, 15, 12);
  t.log(`${states} distinct states under faults, clean`);
  t.true(states > 1000);

  let caughtAt: number | undefined;
  for (let seed = 0; seed < 20 && caughtAt === undefined; seed++) {
    const r = await exploreSimRun({
      mode: engineModes.fsync,
      options: options({ bug: 'ignore-eio' }),
      ops: workload(engineModes.fsync, seed, 12),
      statesPerCut: 6,
      seed,
      tear: true,
      fault: { kind: 'error_writes', atIo: 0, untilIo: 6 },
    });
    if (r.states.some((s) => s.verdict.anomalies.some((a) => a.kind === 'ack-after-eio')))
      caughtAt = seed;
  }
  t.not(caughtAt, undefined, 'ignore-eio not caught in 20 explored runs');
});

test('under fault windows: group commit, cow and slotted (doublewrite) stay clean: what the device lost is not blamed on them', async (t) => {
  // Each of these configurations had produced false lost-ack / non-atomic verdicts before the
  // oracles excused ops in flight while the device lied (not only acked inside the window).
  const kinds: AnomalyKind[] = ['lost-ack', 'non-atomic', 'phantom', 'torn-undetected'];
  const faults = [dropWindow, corruptWindow, { kind: 'corrupt_bio_byte' as const, atIo: 4 }];
  for (const [name, o] of [
    ['group-commit', options()],
    ['cow', options()],
    ['slotted', options({ protection: 'doublewrite' })],
  ] as const) {
    const states = await statesUnderFaults(t, engineModes[name], o, faults, kinds, 10, 14);
    t.log(`${name}: ${states} distinct states under faults, clean`);
    t.true(states > 500);
  }
});

test('planted bugs are still caught under drop and corruption windows', async (t) => {
  for (const [name, bug, kinds] of [
    ['fsync', 'ack-before-sync', ['lost-ack']],
    ['group-commit', 'group-ack-before-sync', ['lost-ack']],
    ['cow', 'cow-overwrite-live', ['lost-ack', 'non-atomic']],
    ['fsync', 'no-checksum', ['torn-undetected', 'corrupt-undetected']],
  ] as const)
    for (const fault of [dropWindow, corruptWindow]) {
      let caughtIn: number | undefined;
      for (let seed = 0; seed < 15 && caughtIn === undefined; seed++) {
        const mode = engineModes[name];
        const r = await exploreSimRun({
          mode,
          options: options({ bug }),
          ops: workload(mode, seed, 14),
          statesPerCut: 6,
          seed,
          tear: true,
          fault,
        });
        if (r.states.some((s) => s.verdict.anomalies.some((a) => kinds.includes(a.kind as never))))
          caughtIn = seed;
      }
      t.not(caughtIn, undefined, `${bug} under ${fault.kind} not caught in 15 runs`);
    }
});
