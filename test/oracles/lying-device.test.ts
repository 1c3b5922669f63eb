import test from 'ava';
import { check } from '../../src/oracles/check.ts';
import { dump, h } from './helpers.ts';

// Transactions: 1 = {p0, p1} (c3), 2 = {p0, p2} (c6), 3 = {p1} (c8).
const ops = ['w1:p0', 'w2:p1', 'c3', 'w4:p0', 'w5:p2', 'c6', 'w7:p1', 'c8'];
const txn = { transactional: true };
const kinds = (v: ReturnType<typeof check>): string[] => v.anomalies.map((a) => a.kind).sort();
// Commit 2 (op 6) is acknowledged before the device starts corrupting; commit 3 (op 8) while it
// corrupts, so it supersedes commit 2.
const superseded = h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 o6 arm:corrupt_bio_byte i7 i8 o8 crash');
// The same, but nothing is acknowledged while the device corrupts.
const notSuperseded = h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 o6 arm:corrupt_bio_byte i7 i8 crash');

test('exempt: after a commit superseded during corruption, detected checksum errors are the device’s', (t) => {
  const v = check(superseded, dump({ 0: '!checksum', 1: '!checksum', 2: 'v5' }), txn);
  t.deepEqual(kinds(v), [], v.anomalies.map((a) => a.message).join('; '));
  t.is(v.stats.ackedWhileFaulty, 1);
});

test('exempt: after a commit superseded during corruption, an unusable store is the device’s', (t) => {
  const v = check(superseded, [], { ...txn, recoverError: 'no valid meta page' });
  t.deepEqual(kinds(v), []);
});

test('exempt: a later state (the superseding commit survived) is fine', (t) => {
  t.deepEqual(kinds(check(superseded, dump({ 0: 'v4', 1: 'v7', 2: 'v5' }), txn)), []);
});

test('blamed: an older state the engine could have kept is a lost ack, even during corruption', (t) => {
  const v = check(superseded, dump({ 0: 'v1', 1: 'v2', 2: null }), txn);
  t.true(kinds(v).includes('lost-ack'));
  t.true(v.anomalies.some((a) => a.kind === 'lost-ack' && a.ops[0] === 6));
});

test('blamed: damage returned as a value is corruption returned as data', (t) => {
  const v = check(superseded, dump({ 0: 'v4', 1: 'vX', 2: 'v5' }), txn);
  t.true(kinds(v).includes('corrupt-undetected'));
});

test('blamed: checksum errors or an unusable store when no later commit was acknowledged during the lie', (t) => {
  const errors = check(notSuperseded, dump({ 0: '!checksum', 1: 'v2', 2: 'v5' }), txn);
  t.true(kinds(errors).includes('lost-ack'));
  const unusable = check(notSuperseded, [], { ...txn, recoverError: 'no valid meta page' });
  t.deepEqual(kinds(unusable), ['unrecoverable']);
  t.regex(
    unusable.anomalies[0]!.message,
    /recover failed \(no valid meta page\).*2 acknowledged commits/,
  );
});

test('non-atomic is judged only against commits the engine could have kept', (t) => {
  // Page 1 damaged (detected), the rest at commit 2: not a mix of commits.
  t.deepEqual(kinds(check(superseded, dump({ 0: 'v4', 1: '!checksum', 2: 'v5' }), txn)), []);
  // Without the supersession the state is judged. Page 1 damaged is still commit 3's: in flight
  // while the device corrupted (its meta may have landed whole, its page damaged), so it is the
  // device's doing...
  t.deepEqual(kinds(check(notSuperseded, dump({ 0: 'v4', 1: '!checksum', 2: 'v5' }), txn)), []);
  // ...but page 2 damaged is commit 2's, made before the lie: it matches no commit state.
  t.true(
    kinds(check(notSuperseded, dump({ 0: 'v4', 1: 'v2', 2: '!checksum' }), txn)).includes(
      'non-atomic',
    ),
  );
});

test('a damaged page is excused only when the commit that wrote its value was exposed to the lie', (t) => {
  // Corruption armed while commit 1 was in flight and never acknowledged: recovery landing on
  // commit 1 with its pages damaged is the device's doing.
  const inFlight = h('w1:p0', 'w2:p1', 'c3').ev('i1 i2 arm:corrupt_bio_byte i3 crash');
  t.deepEqual(kinds(check(inFlight, dump({ 0: '!checksum', 1: '!checksum' }), txn)), []);
  // The same damage with the lie armed after commit 1 was acknowledged: the engine's.
  const before = h('w1:p0', 'w2:p1', 'c3', 'w4:p1', 'c5').ev(
    'i1 i2 i3 o3 arm:corrupt_bio_byte i4 i5 crash',
  );
  t.true(kinds(check(before, dump({ 0: '!checksum', 1: 'v2' }), txn)).includes('lost-ack'));
  // An empty page is an older state, not damage: commit 1 acknowledged, then lost.
  const lost = h('w1:p0', 'w2:p1', 'c3', 'w4:p0', 'c5').ev(
    'i1 i2 i3 o3 arm:drop_writes i4 i5 o5 crash',
  );
  t.true(kinds(check(lost, dump({ 0: null, 1: null }), txn)).includes('lost-ack'));
});

test('unrecoverable (non-transactional): every write the engine is held to counts, reported once', (t) => {
  const history = h('w1:p0', 'w2:p1', 'w3:p0').ev('i1 o1 i2 o2 arm:drop_writes i3 o3 crash');
  const v = check(history, [], { transactional: false, recoverError: 'bad superblock' });
  t.deepEqual(kinds(v), ['unrecoverable']);
  t.deepEqual(v.anomalies[0]!.ops, [1, 2], 'the ack made while writes were dropped is not held');
  const none = h('w1:p0').ev('i1 arm:drop_writes o1 crash');
  t.deepEqual(kinds(check(none, [], { transactional: false, recoverError: 'x' })), []);
});

test('fs-corrupt: a filesystem check that is not clean is an anomaly; a clean one is not', (t) => {
  const history = h('w1:p0').ev('i1 o1 crash');
  const bad = check(history, dump({ 0: 'v1' }), {
    transactional: false,
    fsck: { clean: false, output: 'Inode 12 has illegal blocks' },
  });
  t.deepEqual(kinds(bad), ['fs-corrupt']);
  t.regex(bad.anomalies[0]!.message, /Inode 12/);
  t.true(
    check(history, dump({ 0: 'v1' }), { transactional: false, fsck: { clean: true, output: '' } })
      .valid,
  );
});

test('slotted pages: a lost record names the write that tore its physical page, the one in flight', (t) => {
  // Pages 0, 1, 2 share physical page 1. Write 1 (page 0) acked; write 2 (page 1) acked;
  // write 3 (page 2) in flight at the crash; write 4 (page 1) never started.
  const history = h('w1:p0', 'w2:p1', 'w3:p2', 'w4:p1').ev('i1 o1 i2 o2 i3 crash');
  const dumped = [
    { page: 0, error: 'checksum', physical: 1 },
    { page: 1, error: 'checksum', physical: 1 },
    { page: 2, error: 'checksum', physical: 1 },
  ];
  const v = check(history, dumped, { transactional: false });
  const lost = v.anomalies.filter((a) => a.kind === 'lost-ack');
  t.is(lost.length, 2);
  for (const a of lost) {
    t.regex(a.message, /write 3 to page 2, in flight after it, rewrote that physical page/);
    t.true(a.ops.includes(3));
  }
});
