import test from 'ava';
import { check } from '../../src/oracles/check.ts';
import { dump, h } from './helpers.ts';

const plain = { transactional: false };
const kinds = (v: ReturnType<typeof check>) => v.anomalies.map((a) => a.kind);

test('failing every op inside an error window is honest', (t) => {
  const v = check(
    h('w1:p0', 'w2:p1', 'w3:p2').ev('i1 o1 arm:error_writes i2 f2 disarm:error_writes i3 o3 crash'),
    dump({ 0: 'v1', 1: null, 2: 'v3' }),
    plain,
  );
  t.true(v.valid);
});

test('an ack inside an error window is ack-after-eio', (t) => {
  const v = check(
    h('w1:p0', 'w2:p1').ev('i1 o1 arm:error_writes i2 o2 crash'),
    dump({ 0: 'v1', 1: null }),
    plain,
  );
  t.deepEqual(kinds(v), ['ack-after-eio']);
  t.regex(v.anomalies[0]!.message, /while every write failed with EIO/);
});

test('invoked before the window, acked inside it, and survived: its sync ran before the fault, fine', (t) => {
  // A pipelined group commit: the batch's fdatasync was issued before error_writes was armed
  // and returned after it.
  const v = check(
    h('w1:p0', 'w2:p1').ev('i1 i2 arm:error_writes o1 f2 crash'),
    dump({ 0: 'v1', 1: null }),
    plain,
  );
  t.true(v.valid, JSON.stringify(v.anomalies));
});

test('invoked before the window, acked inside it, and lost: ack-after-eio', (t) => {
  const v = check(
    h('w1:p0', 'w2:p0').ev('i1 o1 i2 arm:error_writes o2 crash'),
    dump({ 0: 'v1' }),
    plain,
  );
  t.deepEqual(kinds(v), ['ack-after-eio']);
  t.deepEqual(v.anomalies[0]!.ops, [2]);
});

test('fsyncgate: started in the window, acked after it, lost: ack-after-eio instead of lost-ack', (t) => {
  const v = check(
    h('w1:p0').ev('arm:error_writes i1 disarm:error_writes o1 crash'),
    dump({ 0: null }),
    plain,
  );
  t.deepEqual(kinds(v), ['ack-after-eio']);
  t.regex(v.anomalies[0]!.message, /fsyncgate/);
});

test('started in the window, acked after it, and survived: fine', (t) => {
  t.true(
    check(
      h('w1:p0').ev('arm:error_writes i1 disarm:error_writes o1 crash'),
      dump({ 0: 'v1' }),
      plain,
    ).valid,
  );
});

test('started in the window, acked after it, then overwritten by a later acked write: fine', (t) => {
  const history = h('w1:p0', 'w2:p0').ev('arm:error_writes i1 disarm:error_writes o1 i2 o2 crash');
  t.true(check(history, dump({ 0: 'v2' }), { transactional: false }).valid);
});
