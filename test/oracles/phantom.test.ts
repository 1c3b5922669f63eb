import test from 'ava';
import { check } from '../../src/oracles/check.ts';
import { dump, h } from './helpers.ts';

const plain = { transactional: false };

test('values written to the page by invoked writes are not phantoms', (t) => {
  t.true(check(h('w1:p0').ev('i1'), dump({ 0: 'v1' }), plain).valid);
});

test('a value written to another page is a misdirected phantom', (t) => {
  const v = check(h('w1:p0', 'w2:p1').ev('i1 i2'), dump({ 0: 'v2', 1: null }), plain);
  t.deepEqual(
    v.anomalies.map((a) => a.kind),
    ['phantom'],
  );
  t.regex(v.anomalies[0]!.message, /misdirected/);
});

test('a value of a write never started is a phantom', (t) => {
  const v = check(h('w1:p0', 'w2:p0').ev('i1 o1'), dump({ 0: 'v2' }), plain);
  t.true(v.anomalies.some((a) => a.kind === 'phantom' && /never started/.test(a.message)));
});

test('a value nobody wrote is a phantom', (t) => {
  const v = check(h('w1:p0').ev('i1'), dump({ 0: 'zzz' }), plain);
  t.deepEqual(
    v.anomalies.map((a) => a.kind),
    ['phantom'],
  );
});
