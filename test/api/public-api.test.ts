// Compile-time and runtime checks of the public API (package root): a breaking change to a
// signature fails `npm run check` (tsc) here, a removed export fails the test.
import test from 'ava';
import * as api from '../../src/index.ts';
import type {
  Expectation,
  Target,
  TrialResult,
  TrialSpec,
  Verdict,
  WorkloadOp,
} from '../../src/index.ts';

test('the package root exports the documented API', (t) => {
  for (const name of [
    'trial',
    'assertVerdict',
    'explainVerdict',
    'VerdictError',
    'startTarget',
    'startQemuTarget',
    'workloadArb',
    'faultPointArb',
    'makeValue',
    'check',
    'meetsExpectation',
    'fc',
  ]) {
    t.truthy((api as Record<string, unknown>)[name], name);
  }
});

test('signatures (checked by tsc)', (t) => {
  const spec: TrialSpec = {
    engine: { mode: 'fsync' },
    fault: { kind: 'drop_writes', arm: { afterOp: 3 } },
    ops: [] as WorkloadOp[],
  };
  const run: (target: Target, spec: TrialSpec) => Promise<TrialResult> = api.trial;
  const assert: (v: Verdict, e?: Expectation) => void = api.assertVerdict;
  const start: (kind: api.TargetKind) => Promise<Target> = api.startTarget;
  t.is(typeof run, 'function');
  t.is(typeof assert, 'function');
  t.is(typeof start, 'function');
  t.is(spec.fault.kind, 'drop_writes');
});

test('assertVerdict explains every anomaly', (t) => {
  const verdict = api.check(
    {
      ops: [{ op: 'write', id: 1, page: 0, value: 'v1' }],
      events: [
        { id: 1, type: 'invoke', t: 0 },
        { id: 1, type: 'ok', t: 1 },
      ],
    },
    [{ page: 0, value: null }],
    { transactional: false },
  );
  const error = t.throws(() => api.assertVerdict(verdict, { 'lost-ack': 'none' }), {
    instanceOf: api.VerdictError,
  });
  t.regex(
    error.message,
    /^expected no lost-ack, found 1\n1\/1 acknowledged.*\n {2}lost-ack: write 1 \(page 0, 'v1'\) was acknowledged/,
  );
  t.notThrows(() => api.assertVerdict(verdict, { 'lost-ack': 'some' }));
});
