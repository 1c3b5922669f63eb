import test from 'ava';
import { encodePage, encodeValue, PageKind } from '../../src/engine/page-format.ts';
import { check } from '../../src/oracles/check.ts';
import type { History } from '../../src/model/history.ts';
import { dump, h } from './helpers.ts';

const page = (p: number, value: string): Uint8Array =>
  encodePage(4096, { kind: PageKind.data, page: p, seq: 1n, length: 0 }, encodeValue(value));

test('a checksum error is detection, not an integrity anomaly', (t) => {
  const v = check(h('w1:p0').ev('i1'), dump({ 0: '!checksum' }), { transactional: false });
  t.true(v.valid);
  t.is(v.stats.checksumErrors, 1);
});

test('with raw pages: a value returned from a torn page is torn-undetected', (t) => {
  const good = page(0, 'v1');
  const torn = good.slice();
  torn.set(page(0, 'v2').subarray(512, 1024), 512); // one sector from another write
  const history = h('w1:p0', 'w2:p0').ev('i1 i2');
  t.true(
    check(history, dump({ 0: 'v1' }), { transactional: false, rawPages: new Map([[0, [good]]]) })
      .valid,
  );
  const v = check(history, dump({ 0: 'v1' }), {
    transactional: false,
    rawPages: new Map([[0, [torn, new Uint8Array(4096)]]]),
  });
  t.deepEqual(
    v.anomalies.map((a) => a.kind),
    ['torn-undetected'],
  );
});

test('with raw pages under an armed corruption fault: corrupt-undetected', (t) => {
  const bad = page(0, 'v1');
  bad[100] = bad[100]! ^ 0xff;
  const v = check(h('w1:p0').ev('arm:corrupt_bio_byte i1 o1 crash'), dump({ 0: 'v1' }), {
    transactional: false,
    rawPages: new Map([[0, [bad]]]),
  });
  t.deepEqual(
    v.anomalies.map((a) => a.kind),
    ['corrupt-undetected'],
  );
});

test('without raw pages: a splice of two values written to the page is torn-undetected', (t) => {
  const history: History = {
    ops: [
      { op: 'write', id: 1, page: 0, value: 'aaaaaaaa' },
      { op: 'write', id: 2, page: 0, value: 'bbbbbbbb' },
    ],
    events: [
      { id: 1, type: 'invoke', t: 0 },
      { id: 2, type: 'invoke', t: 1 },
    ],
  };
  const v = check(history, [{ page: 0, value: 'aaaabbbb' }], { transactional: false });
  t.deepEqual(
    v.anomalies.map((a) => a.kind),
    ['torn-undetected'],
  );
  t.deepEqual(v.anomalies[0]!.ops, [1, 2]);
});

test('without raw pages: an unknown value under corruption is corrupt-undetected, not a phantom', (t) => {
  const v = check(h('w1:p0').ev('arm:corrupt_bio_byte i1 o1'), dump({ 0: 'v?' }), {
    transactional: false,
  });
  t.deepEqual(
    v.anomalies.map((a) => a.kind).sort(),
    ['corrupt-undetected'],
    'the ack came while corruption was armed, so only the undetected corruption is reported',
  );
});

test("with raw pages: another page's verified copy returned as this page is a phantom (a misdirected write), not a torn write", (t) => {
  // Page 0's write landed in one of page 1's slots, and an engine trusting headers returned it.
  const history = h('w1:p0', 'w2:p1').ev('i1 o1 i2 o2');
  const v = check(history, dump({ 0: 'v1', 1: 'v1' }), {
    transactional: false,
    rawPages: new Map([
      [0, [page(0, 'v1'), new Uint8Array(4096)]],
      [1, [page(1, 'v2'), page(0, 'v1')]],
    ]),
    excused: new Set([0, 1]),
  });
  t.deepEqual(
    v.anomalies.map((a) => [a.kind, a.page]),
    [['phantom', 1]],
  );
  t.regex(v.anomalies[0]!.message, /written by write 1 to page 0: a misdirected write/);
});

test('excused pages: durability does not hold the engine to them, every other page it does', (t) => {
  const history = h('w1:p0', 'w2:p1').ev('i1 o1 i2 o2');
  const lost = dump({ 0: null, 1: null });
  t.deepEqual(
    check(history, lost, { transactional: false, excused: new Set([0]) }).anomalies.map((a) => [
      a.kind,
      a.page,
    ]),
    [['lost-ack', 1]],
  );
  t.true(check(history, lost, { transactional: false, excused: new Set([0, 1]) }).valid);
});
