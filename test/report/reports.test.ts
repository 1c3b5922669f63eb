import test from 'ava';
import { mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrialResult } from '../../src/harness/trial/run-trial.ts';
import { check } from '../../src/oracles/check.ts';
import { meetsExpectation } from '../../src/oracles/expectation.ts';
import { htmlReport } from '../../src/report/html.ts';
import { junitXml } from '../../src/report/junit.ts';
import { RunStore, runStamp } from '../../src/report/run-store.ts';
import { plans } from '../harness/trial/vm-helpers.ts';
import type { History } from '../../src/model/history.ts';

/** A trial result as the runner builds it, from a small real history (no VM needed). */
function result(lost: boolean): TrialResult {
  const plan = plans(
    'engine: { mode: fsync }\nworkload: { ops: 2, pages: 2 }\nfault: { kind: drop_writes, arm: { afterOp: 1 } }\nexpect: { lost-ack: none }\n',
  )[0]!;
  const history: History = {
    ops: [
      { op: 'write', id: 1, page: 0, value: 'w1' },
      { op: 'write', id: 2, page: 1, value: 'w2' },
    ],
    events: [
      { id: 1, type: 'invoke', t: 1 },
      { id: 1, type: 'ok', t: 2 },
      { type: 'nemesis', t: 2, action: 'arm', fault: 'drop_writes' },
      { id: 2, type: 'invoke', t: 3 },
      { id: 2, type: 'ok', t: 4 },
      { type: 'nemesis', t: 4, action: 'crash' },
    ],
  };
  const dump = [
    { page: 0, value: lost ? null : 'w1' },
    { page: 1, value: null },
  ];
  const verdict = check(history, dump, { transactional: false });
  return {
    plan,
    ops: [...history.ops],
    history,
    dump,
    verdict,
    expectation: meetsExpectation(verdict, plan.expect),
    engineStderr: '',
    phaseMs: { device: 1000, workload: 500, fault: 100, recover: 800, check: 1 },
    log: [],
  };
}

test('JUnit: a trial not as expected is a failure listing its anomalies; names escaped', (t) => {
  const xml = junitXml(
    'a<b',
    [result(false), result(true)],
    [{ id: 'x', message: 'boom "quoted"' }],
  );
  t.regex(xml, /<testsuite name="a&lt;b" tests="3" failures="1" errors="1">/);
  t.regex(
    xml,
    /<failure message="expected no lost-ack, found 1">lost-ack: write 1 \(page 0, 'w1'\) was acknowledged/,
  );
  t.regex(xml, /<error message="boom &quot;quoted&quot;"\/>/);
  t.regex(xml, /time="2\.401"/);
});

test('HTML: self-contained, a timeline per trial with the fault window, lost acks marked', (t) => {
  const html = htmlReport('demo', [result(true)]);
  t.false(/<script|https?:\/\//.test(html), 'no scripts, no network');
  t.regex(html, /<svg [^>]*aria-label="timeline"/);
  t.regex(html, /<title>drop_writes armed<\/title>/);
  t.regex(html, /fill="#d33"><title>ack of op 1<\/title>/, 'the lost ack is red');
  t.regex(html, /fill="#999"><title>ack of op 2<\/title>/, 'the ack made during the drop is grey');
  t.regex(html, /<b>lost-ack<\/b>/);
});

test('the run store writes every file atomically and links latest', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'powercut-store-'));
  const store = new RunStore(root, 'demo', runStamp(new Date('2026-01-02T03:04:05Z')));
  await store.init('engine: { mode: fsync }\n');
  const r = result(false);
  const dir = await store.writeTrial(r);
  await store.writeReports('demo', [r], []);
  for (const f of [
    'trial.json',
    'workload.jsonl',
    'history.jsonl',
    'dump.json',
    'verdict.json',
    'harness.log',
  ]) {
    t.notThrows(() => readFileSync(join(dir, f)), f);
  }
  t.is(
    JSON.parse(readFileSync(join(dir, 'trial.json'), 'utf8')).seed,
    r.plan.seed,
    'the plan (with its seed) is stored for replay',
  );
  t.is(
    readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').length,
    r.history.events.length,
  );
  t.is(readlinkSync(join(root, 'demo', 'latest')), '2026-01-02T03-04-05-000Z');
  t.true(readFileSync(join(store.dir, 'report.html'), 'utf8').includes('<svg'));
  t.true(readFileSync(join(store.dir, 'junit.xml'), 'utf8').startsWith('<?xml'));
});
