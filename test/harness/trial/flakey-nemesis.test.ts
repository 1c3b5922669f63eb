import test from 'ava';
import type { WorkloadOp } from '../../../src/model/workload.ts';
import { FlakeyNemesis } from '../../../src/harness/trial/flakey-nemesis.ts';
import { PhaseClock } from '../../../src/harness/trial/phase-clock.ts';
import type { TrialRig } from '../../../src/harness/trial/trial-rig.ts';

// The nemesis on the CPU: a fake rig records what it is asked to do; no VM.
const ops: WorkloadOp[] = Array.from({ length: 6 }, (_, i) => ({
  op: 'write',
  id: i + 1,
  page: i,
  value: `w${i + 1}`,
}));

function rig(armFails = false): { rig: TrialRig; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    rig: {
      arm: async (f: { kind: string }) => {
        calls.push(`arm ${f.kind}`);
        if (armFails) throw new Error('dmsetup load failed');
      },
      disarm: async () => void calls.push('disarm'),
    } as unknown as TrialRig,
  };
}

const nemesis = (fault: object, r: TrialRig, log: string[] = []): FlakeyNemesis =>
  new FlakeyNemesis({
    rig: r,
    fault: { kind: 'drop_writes', ...fault } as never,
    ops,
    transactional: false,
    clock: new PhaseClock(),
    log,
  });

test('afterOp N becomes a tracer stop on the answers of ops 1..N, and a feed cut at N', (t) => {
  const n = nemesis({ arm: { afterOp: 4 }, disarm: { afterOp: 5 } }, rig().rig);
  t.deepEqual(n.tracing.stops, [
    { label: 'arm', kind: 'answers', answers: [1, 2, 3, 4], invoked: [] },
    { label: 'disarm', kind: 'answers', answers: [1, 2, 3, 4, 5], invoked: [] },
  ]);
  t.deepEqual(n.cuts, [
    { at: 4, label: 'arm' },
    { at: 5, label: 'disarm' },
  ]);
  const at = nemesis({ arm: { at: 'fdatasync', occurrence: 3, when: 'before' } }, rig().rig);
  t.deepEqual(at.tracing.stops, [
    { label: 'arm', kind: 'syscall', event: 'fdatasync', n: 3, when: 'before' },
  ]);
  t.deepEqual(at.cuts, []);
});

test('an arm that fails fails the trial (it is never counted as armed)', async (t) => {
  const r = rig(true);
  const n = nemesis({ arm: { afterOp: 0 } }, r.rig);
  await n.setup();
  t.deepEqual(r.calls, ['arm drop_writes']);
  await t.throwsAsync(n.finish(), { message: /arm failed: dmsetup load failed/ });
});

test('an arm at a stop the engine never reached fails the trial; one it reached passes', async (t) => {
  const never = nemesis({ arm: { at: 'ack', occurrence: 5 } }, rig().rig);
  await t.throwsAsync(never.finish(), { message: /fewer than 5 ack event\(s\).*never armed/ });
  const r = rig();
  const reached = nemesis({ arm: { at: 'ack', occurrence: 5 } }, r.rig);
  await reached.onStop({ type: 'stop', t: 0, label: 'arm', event: 'ack', n: 5, exact: true });
  await t.notThrowsAsync(reached.finish());
  t.deepEqual(r.calls, ['arm drop_writes']);
});

test('a stop the nemesis did not ask for is an error, and an inexact one is logged', async (t) => {
  const log: string[] = [];
  const n = nemesis({ arm: { at: 'ack', occurrence: 1 } }, rig().rig, log);
  await n.onStop({ type: 'stop', t: 0, label: 'arm', event: 'ack', exact: false });
  await n.onStop({ type: 'stop', t: 0, label: 'surprise', event: 'now', exact: true });
  t.regex(log.join('\n'), /stop arm came after its event/);
  await t.throwsAsync(n.finish(), { message: /stopped at an unknown point surprise/ });
});
