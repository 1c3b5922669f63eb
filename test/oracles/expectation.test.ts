import test from 'ava';
import { meetsExpectation } from '../../src/oracles/expectation.ts';
import type { Verdict } from '../../src/model/verdict.ts';

const verdict = (kinds: Verdict['anomalies'][number]['kind'][]): Verdict => ({
  valid: kinds.length === 0,
  anomalies: kinds.map((kind) => ({ kind, ops: [], message: kind })),
  stats: {
    ops: 0,
    acked: 0,
    failed: 0,
    pages: 0,
    recoveredValues: 0,
    checksumErrors: 0,
    ackedWhileFaulty: 0,
  },
});

test('none, some and any', (t) => {
  t.true(meetsExpectation(verdict([]), { 'lost-ack': 'none' }).ok);
  t.deepEqual(meetsExpectation(verdict(['lost-ack', 'lost-ack']), { 'lost-ack': 'none' }).reasons, [
    'expected no lost-ack, found 2',
  ]);
  t.true(
    meetsExpectation(verdict(['lost-ack']), { 'lost-ack': 'some' }).ok,
    'plain losing data is a passing demonstration',
  );
  t.deepEqual(meetsExpectation(verdict([]), { 'lost-ack': 'some' }).reasons, [
    'expected lost-ack, found none',
  ]);
  t.true(meetsExpectation(verdict(['phantom']), { phantom: 'any' }).ok);
  t.true(meetsExpectation(verdict(['phantom']), {}).ok, 'unjudged kinds do not matter');
});

test('a trial in which the engine answered none of its ops never passes', (t) => {
  const silent = verdict([]);
  silent.stats.ops = 12;
  t.deepEqual(meetsExpectation(silent, { 'lost-ack': 'none' }, { requireAnswers: true }).reasons, [
    'the engine answered none of its 12 ops (no ok or fail event): nothing was tested',
  ]);
  t.true(
    meetsExpectation(silent, { 'lost-ack': 'none' }).ok,
    'a cut at the first I/O answers nothing',
  );
  const allFailed = { ...silent, stats: { ...silent.stats, failed: 12 } };
  t.true(meetsExpectation(allFailed, { 'lost-ack': 'none' }, { requireAnswers: true }).ok);
});
