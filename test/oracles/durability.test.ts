import test from 'ava';
import { check } from '../../src/oracles/check.ts';
import { dump, h } from './helpers.ts';

const kinds = (v: ReturnType<typeof check>) => v.anomalies.map((a) => a.kind);
const plain = { transactional: false };

test('the last acknowledged value surviving is valid', (t) => {
  const v = check(h('w1:p0', 'w2:p0').ev('i1 o1 i2 o2 crash'), dump({ 0: 'v2' }), plain);
  t.true(v.valid);
  t.is(v.stats.acked, 2);
});

test('an acknowledged write overwritten by a later acked write is not lost', (t) => {
  t.true(check(h('w1:p0', 'w2:p0').ev('i1 o1 i2 o2'), dump({ 0: 'v2' }), plain).valid);
});

test('a newer unacknowledged write may or may not survive', (t) => {
  const history = h('w1:p0', 'w2:p0').ev('i1 o1 i2 crash');
  t.true(check(history, dump({ 0: 'v1' }), plain).valid);
  t.true(check(history, dump({ 0: 'v2' }), plain).valid);
});

test('an older value after an acknowledged write is a lost ack, explained', (t) => {
  const v = check(h('w1:p0', 'w2:p0').ev('i1 o1 i2 o2 crash'), dump({ 0: 'v1' }), plain);
  t.deepEqual(kinds(v), ['lost-ack']);
  const a = v.anomalies[0]!;
  t.is(a.page, 0);
  t.deepEqual(a.ops, [2, 1]);
  t.is(a.expected, 'v2');
  t.is(a.found, 'v1');
  t.regex(
    a.message,
    /write 2 \(page 0, 'v2'\) was acknowledged .* holds 'v1' from write 1, which completed before write 2 began/,
  );
});

test('an empty page or a checksum error after an ack is a lost ack', (t) => {
  const history = h('w1:p0').ev('i1 o1 crash');
  t.deepEqual(kinds(check(history, dump({ 0: null }), plain)), ['lost-ack']);
  t.deepEqual(kinds(check(history, dump({ 0: '!checksum' }), plain)), ['lost-ack']);
});

test('concurrent writes may land in either order', (t) => {
  // 1 and 2 overlap: neither precedes the other.
  const history = h('w1:p0', 'w2:p0').ev('i1 i2 o2 o1 crash');
  t.true(check(history, dump({ 0: 'v1' }), plain).valid);
  t.true(check(history, dump({ 0: 'v2' }), plain).valid);
});

test('a failed write that completed before an acked one must not be what survives', (t) => {
  const v = check(h('w1:p0', 'w2:p0').ev('i1 f1 i2 o2 crash'), dump({ 0: 'v1' }), plain);
  t.deepEqual(kinds(v), ['lost-ack']);
  t.is(v.stats.failed, 1);
});

test('acks made while writes were being dropped are not held against the engine', (t) => {
  const v = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 o2 crash'),
    dump({ 0: 'v1' }),
    plain,
  );
  t.true(v.valid);
  t.is(v.stats.ackedWhileFaulty, 1);
  // ...but the ack made before the drop still is.
  t.deepEqual(
    kinds(
      check(h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 o2 crash'), dump({ 0: null }), plain),
    ),
    ['lost-ack'],
  );
});

test('several lost acks on one page make one anomaly that counts them', (t) => {
  const v = check(h('w1:p0', 'w2:p0', 'w3:p0').ev('i1 o1 i2 o2 i3 o3'), dump({ 0: null }), plain);
  t.is(v.anomalies.length, 1);
  t.deepEqual(v.anomalies[0]!.ops, [3]);
  t.regex(v.anomalies[0]!.message, /3 acknowledged writes to this page lost/);
});

test('under corruption, an older ack superseded by an ack made while corrupting is not held against the engine', (t) => {
  // The engine rightly reused the old copy's space once write 2 was acknowledged; the device
  // corrupted write 2, so both are gone: the device's fault, not the engine's.
  const v = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:corrupt_bio_byte i2 o2 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.true(v.valid);
  // Without the lie, losing both is a lost ack (of the newest).
  const honest = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 i2 o2 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.deepEqual(
    honest.anomalies.map((a) => [a.kind, a.ops[0]]),
    [['lost-ack', 2]],
  );
  // Under drop_writes a dropped write changes nothing on disk: the older ack must survive.
  const dropped = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 o2 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.deepEqual(
    dropped.anomalies.map((a) => [a.kind, a.ops[0]]),
    [['lost-ack', 1]],
  );
});

test('an ack that came after a lying window is not held when its write was in flight inside it', (t) => {
  // Write 2 was written (and its bios dropped) inside the window, acknowledged after it.
  const v = check(
    h('w1:p0', 'w2:p1').ev('i1 o1 i2 arm:drop_writes disarm:drop_writes o2 crash'),
    dump({ 0: 'v1', 1: null }),
    plain,
  );
  t.true(v.valid, v.anomalies.map((a) => a.message).join('; '));
  t.is(v.stats.ackedWhileFaulty, 1);
  // Invoked after the window closed: held.
  const after = check(
    h('w1:p0', 'w2:p1').ev('i1 o1 arm:drop_writes disarm:drop_writes i2 o2 crash'),
    dump({ 0: 'v1', 1: null }),
    plain,
  );
  t.deepEqual(kinds(after), ['lost-ack']);
});

test('under drop_writes, an older ack is excused once a later write to the page began after the dropped one', (t) => {
  // Write 2 dropped but acknowledged; the engine then rightly wrote write 3 over write 1's copy
  // (ping-pong), and the crash tore it: write 1 is gone, the device's doing.
  const reused = check(
    h('w1:p0', 'w2:p0', 'w3:p0').ev('i1 o1 arm:drop_writes i2 o2 disarm:drop_writes i3 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.true(reused.valid, reused.anomalies.map((a) => a.message).join('; '));
  // No later write: nothing could have touched write 1's copy.
  const untouched = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 o2 disarm:drop_writes crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.deepEqual(kinds(untouched), ['lost-ack']);
});

test('a page torn by a write that met the lie is the device’s (its repair copy may be gone); one wholly dropped is not', (t) => {
  // Write 2 in flight across the end of the drop window: its doublewrite copy dropped, its
  // in-place write stored and torn by the crash.
  const across = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 disarm:drop_writes crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.true(across.valid, across.anomalies.map((a) => a.message).join('; '));
  const corrupting = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:corrupt_bio_byte i2 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.true(corrupting.valid);
  // Wholly inside the drop window: nothing of write 2 reached the disk.
  const dropped = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 arm:drop_writes i2 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.deepEqual(kinds(dropped), ['lost-ack']);
});

test('under drop_writes, an older value after later writes met the lie is still a lost ack (the ack came before its own sync)', (t) => {
  // An engine that acks before syncing: write 2 acknowledged before the window, its sync dropped
  // inside it; writes 3 and 4 to the page follow. The page shows write 1: write 2 never became
  // durable, whatever happened to the writes after it.
  const older = check(
    h('w1:p0', 'w2:p0', 'w3:p0', 'w4:p0').ev('i1 o1 i2 o2 arm:drop_writes i3 o3 i4 o4 crash'),
    dump({ 0: 'v1' }),
    plain,
  );
  t.deepEqual(
    older.anomalies.map((a) => [a.kind, a.ops[0]]),
    [['lost-ack', 2]],
  );
  // The same page damaged: write 4 may have reused write 2's copy and been torn.
  const damaged = check(
    h('w1:p0', 'w2:p0', 'w3:p0', 'w4:p0').ev('i1 o1 i2 o2 arm:drop_writes i3 o3 i4 o4 crash'),
    dump({ 0: '!checksum' }),
    plain,
  );
  t.true(damaged.valid, damaged.anomalies.map((a) => a.message).join('; '));
});
