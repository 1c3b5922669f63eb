import test from 'ava';
import { check } from '../../src/oracles/check.ts';
import { dump, h } from './helpers.ts';

const txn = { transactional: true };
// Transaction 1: pages 0 and 1; transaction 2: pages 0 and 2.
const ops = ['w1:p0', 'w2:p1', 'c3', 'w4:p0', 'w5:p2', 'c6'];
const kinds = (v: ReturnType<typeof check>) => v.anomalies.map((a) => a.kind).sort();

test('the state after the last acknowledged commit is valid', (t) => {
  t.true(
    check(h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 o6 crash'), dump({ 0: 'v4', 1: 'v2', 2: 'v5' }), txn)
      .valid,
  );
});

test('an invoked but unacknowledged commit may or may not be there', (t) => {
  const history = h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 crash');
  t.true(check(history, dump({ 0: 'v1', 1: 'v2', 2: null }), txn).valid);
  t.true(check(history, dump({ 0: 'v4', 1: 'v2', 2: 'v5' }), txn).valid);
});

test('half of a transaction is non-atomic', (t) => {
  const v = check(
    h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 crash'),
    dump({ 0: 'v4', 1: 'v2', 2: null }),
    txn,
  );
  t.deepEqual(kinds(v), ['non-atomic']);
  t.regex(v.anomalies[0]!.message, /closest is commit \d, differing on 1 page/);
});

test('a state older than the last acknowledged commit is a lost ack (and not that state)', (t) => {
  const v = check(
    h(...ops).ev('i1 i2 i3 o3 i4 i5 i6 o6 crash'),
    dump({ 0: 'v1', 1: 'v2', 2: null }),
    txn,
  );
  t.deepEqual(kinds(v), ['lost-ack', 'lost-ack', 'non-atomic']);
  t.true(v.anomalies.every((a) => a.kind !== 'lost-ack' || a.ops[0] === 6));
});

test('writes of a transaction never committed must not appear', (t) => {
  const v = check(
    h('w1:p0', 'c2', 'w3:p1').ev('i1 i2 o2 i3 crash'),
    dump({ 0: 'v1', 1: 'v3' }),
    txn,
  );
  t.deepEqual(kinds(v), ['non-atomic']);
});

test('a commit acknowledged while writes were dropped may be lost', (t) => {
  const v = check(
    h(...ops).ev('i1 i2 i3 o3 arm:drop_writes i4 i5 i6 o6 crash'),
    dump({ 0: 'v1', 1: 'v2', 2: null }),
    txn,
  );
  t.true(v.valid);
  t.is(v.stats.ackedWhileFaulty, 1);
});
