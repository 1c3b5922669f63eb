import test from 'ava';
import fc from 'fast-check';
import { parseLog, type LogEntry } from '../../src/logwrites/format.ts';
import {
  acksBeforeEach,
  exploreStates,
  parseExploreMode,
  parseStateId,
  stateId,
  unflushedGroups,
  misdirectTargets,
} from '../../src/logwrites/states.ts';
import { mulberry32 } from '../../src/sim/prng.ts';
import { filled, syntheticLog, type SyntheticEntry } from './synthetic-log.ts';

const entriesOf = (spec: SyntheticEntry[]): LogEntry[] => {
  const log = syntheticLog(spec);
  return parseLog((o, n) => log.subarray(o, o + n), log.length).entries;
};

// mkfs-ish prefix, the start mark, then two acknowledged writes, each write + flush + ack mark.
const run = entriesOf([
  { write: 0, data: filled(9) }, // 0 mkfs
  { flush: true }, // 1
  { mark: 'powercut:start' }, // 2
  { write: 10, data: filled(1) }, // 3
  { write: 11, data: filled(1) }, // 4
  { flush: true }, // 5
  { mark: 'ack:1' }, // 6
  { write: 12, data: filled(2) }, // 7
  { flush: true }, // 8
  { mark: 'ack:2' }, // 9
  { write: 13, data: filled(3) }, // 10: never flushed (appended at teardown)
  { mark: 'dm-log-writes-end' }, // 11
]);

test('explore modes parse; others are refused', (t) => {
  t.deepEqual(parseExploreMode('flush'), { kind: 'flush' });
  t.deepEqual(parseExploreMode('reorder:3'), { kind: 'reorder', n: 3 });
  t.is(parseExploreMode('reorder:0'), undefined);
  t.is(parseExploreMode('all'), undefined);
});

test('flush states: one per barrier, moved past marks so they claim every ack before the next write', (t) => {
  const { states } = exploreStates(run, { kind: 'flush' }, { maxStates: 100, seed: 1, from: 3 });
  t.deepEqual(
    states.map((s) => [s.id, s.boundary]),
    [
      ['3', 'flush'],
      ['7', 'flush'],
      ['10', 'flush'],
      ['12', 'end'],
    ],
  );
  t.deepEqual([...acksBeforeEach(run)(7)], [1]);
  t.deepEqual([...acksBeforeEach(run)(10)], [1, 2]);
  t.deepEqual([...acksBeforeEach(run)(3)], []);
});

test('acksBeforeEach: every cut holds the acks whose marks precede it, one set per ack count', (t) => {
  const acksAt = acksBeforeEach(run);
  // ack:1 is entry 6, ack:2 entry 9.
  for (let at = 0; at <= run.length; at++)
    t.deepEqual([...acksAt(at)], at <= 6 ? [] : at <= 9 ? [1] : [1, 2], `cut ${at}`);
  t.is(acksAt(7), acksAt(8), 'cuts with as many acks before them share the set');
  t.not(acksAt(7), acksAt(10));
});

test('marks states coincide with the flush states here (marks sit between flush groups)', (t) => {
  const { states } = exploreStates(run, { kind: 'marks' }, { maxStates: 100, seed: 1, from: 3 });
  // One mark state per ack mark; the kernel's end mark, after a write that followed the last
  // ack, is the end state, not one more ack state.
  t.deepEqual(
    states.map((s) => [s.id, s.boundary]),
    [
      ['3', 'flush'],
      ['7', 'mark'],
      ['10', 'mark'],
      ['12', 'end'],
    ],
  );
});

test('reorder:N drops up to N writes of each unflushed group, never past its flush', (t) => {
  t.deepEqual(
    unflushedGroups(run.slice(3)).map((g) => g.map((e) => e.index)),
    [[3, 4], [7], [10]],
  );
  const { states, sampledFrom } = exploreStates(
    run,
    { kind: 'reorder', n: 1 },
    { maxStates: 100, seed: 1, from: 3 },
  );
  t.is(sampledFrom, undefined);
  t.deepEqual(
    states.filter((s) => s.boundary === 'reorder').map((s) => s.id),
    ['5~3', '5~4', '8~7', '11~10'],
  );
  const two = exploreStates(run, { kind: 'reorder', n: 2 }, { maxStates: 100, seed: 1, from: 3 });
  t.true(two.states.some((s) => s.id === '5~3.4'));
  // A dropped state's acks are those before its group: the flush that would cover it has not happened.
  t.deepEqual([...acksBeforeEach(run)(5)], []);
});

test('state ids round-trip', (t) => {
  fc.assert(
    fc.property(fc.nat(1e6), fc.uniqueArray(fc.nat(1e6), { maxLength: 5 }), (at, dropped) => {
      t.deepEqual(parseStateId(stateId(at, dropped)), { at, dropped });
    }),
  );
  t.is(parseStateId('7~'), undefined);
});

test('beyond maxStates a seeded sample is kept, the same for the same seed', (t) => {
  const big = entriesOf([
    { mark: 'powercut:start' },
    ...Array.from({ length: 30 }, (_, i): SyntheticEntry => ({ write: i, data: filled(i) })),
    { flush: true },
  ]);
  const a = exploreStates(big, { kind: 'reorder', n: 2 }, { maxStates: 50, seed: 7, from: 1 });
  const b = exploreStates(big, { kind: 'reorder', n: 2 }, { maxStates: 50, seed: 7, from: 1 });
  t.is(a.states.length, 50);
  t.is(a.sampledFrom, 2 + 30 + 435);
  t.deepEqual(a.states, b.states);
  t.is(new Set(a.states.map((s) => s.id)).size, 50);
  for (const s of a.states.filter((x) => x.boundary === 'reorder')) {
    t.true(s.dropped.length >= 1 && s.dropped.length <= 2);
    t.is(s.at, 31);
  }
});

// An in-place page write of 8 sectors in flight (unflushed), after an acknowledged one.
const pageWrites = entriesOf([
  { mark: 'powercut:start' }, // 0
  { write: 8, data: filled(1, 4096) }, // 1: page, 8 sectors
  { flush: true }, // 2
  { mark: 'ack:1' }, // 3
  { write: 8, data: filled(2, 4096) }, // 4: the same page rewritten, never flushed
  { write: 40, data: filled(3, 512) }, // 5: one sector: cannot tear
  { mark: 'dm-log-writes-end' }, // 6
]);

test('tear:N states: a multi-sector write of an unflushed group persisted in part, at up to N sector boundaries', (t) => {
  t.deepEqual(parseExploreMode('tear:3'), { kind: 'tear', n: 3 });
  const { states } = exploreStates(
    pageWrites,
    { kind: 'tear', n: 3 },
    { maxStates: 100, seed: 1, from: 1 },
  );
  const torn = states.filter((s) => s.boundary === 'tear');
  t.deepEqual(
    torn.map((s) => s.id),
    ['2^1:2', '2^1:4', '2^1:6', '5^4:2', '5^4:4', '5^4:6'],
    'each 8-sector write a crash could catch before its flush, cut after 2, 4 and 6 sectors; not the 1-sector one',
  );
  for (const s of torn) {
    t.is(
      s.at,
      s.torn!.entry + 1,
      'not moved past the entries after it (a flush would make it whole)',
    );
    t.deepEqual(acksBeforeEach(pageWrites)(s.at), s.at === 2 ? new Set() : new Set([1]));
    t.deepEqual(parseStateId(s.id), { at: s.at, dropped: [], torn: s.torn });
  }
  t.true(
    states.some((s) => s.boundary === 'flush'),
    'the flush states too',
  );
  const one = exploreStates(
    pageWrites,
    { kind: 'tear', n: 1 },
    { maxStates: 100, seed: 1, from: 1 },
  );
  t.deepEqual(
    one.states.filter((s) => s.torn).map((s) => s.id),
    ['2^1:4', '5^4:4'],
  );
});

// A store page and a block of the filesystem's own metadata (a journal superblock, say), both
// in flight in one unflushed group.
const storeAndMetadata = entriesOf([
  { mark: 'powercut:start' }, // 0
  { write: 8, data: filled(1, 4096) }, // 1: the store's page, sectors 8-15
  { write: 64, data: filled(2, 4096) }, // 2: the filesystem's metadata, sectors 64-71
  { write: 16, data: filled(3, 4096) }, // 3: right after the store, sectors 16-23
  { flush: true }, // 4
  { mark: 'dm-log-writes-end' }, // 5
]);

test("tear:N with the store's ranges tears the store's writes only, not the filesystem's metadata", (t) => {
  const tornIds = (options: Parameters<typeof exploreStates>[2]) =>
    exploreStates(storeAndMetadata, { kind: 'tear', n: 1 }, options)
      .states.filter((s) => s.torn)
      .map((s) => s.id);
  t.deepEqual(tornIds({ maxStates: 100, seed: 1, from: 1 }), ['2^1:4', '3^2:4', '4^3:4']);
  t.deepEqual(
    tornIds({
      maxStates: 100,
      seed: 1,
      from: 1,
      tearWithin: { ranges: [{ start: 8, sectors: 8 }], sectorSize: 512 },
    }),
    ['2^1:4'],
    'not the metadata, nor the write that starts where the store ends',
  );
  t.deepEqual(
    tornIds({
      maxStates: 100,
      seed: 1,
      from: 1,
      tearWithin: { ranges: [{ start: 60, sectors: 5 }], sectorSize: 512 },
    }),
    ['3^2:4'],
    'a write that overlaps the store in part is torn',
  );
});

// Writes into a store of 8 pages of 1 KiB (2 sectors each) at device sectors 100-115, an
// acknowledged one and one after it that no flush covers; a write outside the store.
const storeWrites = entriesOf([
  { mark: 'powercut:start' }, // 0
  { write: 102, data: filled(1, 1024) }, // 1: store page 1
  { write: 7, data: filled(2, 512) }, // 2: outside the store
  { flush: true }, // 3
  { mark: 'ack:1' }, // 4
  { write: 108, data: filled(3, 2048) }, // 5: store pages 4-5, never flushed
  { mark: 'dm-log-writes-end' }, // 6
]);
const storeSpace = {
  extents: [{ fileSector: 0, start: 100, sectors: 16 }],
  fileBytes: 16 * 512,
  alignBytes: 1024,
  sectorSize: 512,
};

test('misdirect:N states: each store write at N other page-aligned places of the store, cut at the first flush after it', (t) => {
  t.deepEqual(parseExploreMode('misdirect:2'), { kind: 'misdirect', n: 2 });
  const explore = (seed: number) =>
    exploreStates(
      storeWrites,
      { kind: 'misdirect', n: 2 },
      { maxStates: 100, seed, from: 1, misdirect: storeSpace },
    ).states;
  const states = explore(1);
  const misdirected = states.filter((s) => s.boundary === 'misdirect');
  t.deepEqual(
    misdirected.map((s) => s.misdirect!.entry),
    [1, 1, 5, 5],
    'two targets for each store write, none for the write outside the store',
  );
  for (const s of misdirected) {
    const e = storeWrites[s.misdirect!.entry]!;
    const { sector } = s.misdirect!;
    t.true(sector >= 100 && sector + e.nrSectors <= 116, `${s.id}: inside the store`);
    t.is((sector - 100) % 2, 0, `${s.id}: at a page boundary`);
    t.true(
      sector + e.nrSectors <= e.sector || e.sector + e.nrSectors <= sector,
      `${s.id}: elsewhere`,
    );
    // Entry 1 is made durable by the flush at 3 (cut moved past the ack mark); entry 5 by none.
    t.is(s.at, s.misdirect!.entry === 1 ? 5 : 7);
    t.deepEqual(parseStateId(s.id), { at: s.at, dropped: [], misdirect: s.misdirect });
  }
  t.true(
    states.some((s) => s.boundary === 'flush'),
    'the flush states too',
  );
  t.deepEqual(explore(1), states, 'the same seed, the same targets');
  t.throws(() =>
    exploreStates(storeWrites, { kind: 'misdirect', n: 1 }, { maxStates: 9, seed: 1 }),
  );
});

test('misdirect targets: in one extent, aligned in the file and on the device; none for a write leaving the store', (t) => {
  const random = mulberry32(7);
  // File pages of 4 KiB; the second extent holds a page and a half: room for one page.
  const space = {
    extents: [
      { fileSector: 0, start: 1000, sectors: 16 },
      { fileSector: 16, start: 40, sectors: 12 },
    ],
    fileBytes: 28 * 512,
    alignBytes: 4096,
    sectorSize: 512,
  };
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++)
    for (const s of misdirectTargets({ sector: 1000, nrSectors: 8 }, space, 3, random)) seen.add(s);
  t.deepEqual(
    [...seen].sort((a, b) => a - b),
    [40, 1008],
    'file pages 2 (device 1008) and 3 (device 40)',
  );
  t.deepEqual(
    misdirectTargets({ sector: 1012, nrSectors: 8 }, space, 3, random),
    [],
    'half outside',
  );
  t.deepEqual(
    misdirectTargets(
      { sector: 1000, nrSectors: 8 },
      { ...space, extents: space.extents.slice(0, 1) },
      5,
      random,
    ),
    [1008],
    'fewer targets where the store has fewer places',
  );
  t.deepEqual(
    misdirectTargets({ sector: 1000, nrSectors: 8 }, { ...space, fileBytes: 16 * 512 }, 5, random),
    [1008],
    'none past the part of the file the engine uses',
  );
});
