import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrialAgent } from '../../../src/harness/agent/trial-agent.ts';
import { HarnessError } from '../../../src/harness/errors.ts';
import { LocalTarget } from '../../../src/harness/target/local.ts';
import type { RemoteProcess, Target } from '../../../src/harness/target/target.ts';
import type { TrialPhase } from '../../../src/model/trial-result.ts';
import type { WorkloadOp } from '../../../src/model/workload.ts';
import { plans } from '../trial/vm-helpers.ts';

// The host's end of the trial agent, against small agents in real processes: what it does with
// a result, an error, an agent that dies and one that goes silent. The real agent runs real
// trials in the guest: test/harness/trial/run-trial.test.ts.

const fakeAgent = `
import { createInterface } from 'node:readline';
const mode = process.argv[2];
const say = (m) => console.log(JSON.stringify(m));
for await (const line of createInterface({ input: process.stdin })) {
  const { id, plan, ops } = JSON.parse(line);
  if (mode === 'die') { console.error('agent: out of memory'); process.exit(3); }
  if (mode === 'silent') continue;
  if (mode === 'error') { say({ id, error: 'dmsetup create failed', harness: true }); continue; }
  console.log('not a protocol line');
  say({ id, phase: 'device' });
  say({ id: id + 100, phase: 'check' });
  say({ id, alive: true });
  say({ id, phase: 'workload' });
  say({ id, result: { plan, dump: [], verdict: { valid: true, anomalies: [], stats: { ops: ops.length } },
    expectation: { ok: true, reasons: [] }, engineStderr: '', log: ['in the agent'],
    phaseMs: { device: 1, workload: 2, fault: 3, recover: 4, check: 5 },
    events: [{ kind: 'ack', op: 0 }] } });
}
`;
const dir = mkdtempSync(join(tmpdir(), 'powercut-agent-test-'));
const script = join(dir, 'agent.mjs');
writeFileSync(script, fakeAgent);

const locals: LocalTarget[] = [];
// The agents that still wait for requests end with their targets (or the test would not exit).
test.after.always(async () => {
  await Promise.all(locals.map((l) => l.teardown()));
});

/** A target whose agent is the fake one in `mode`; the spawned processes, to see them end. */
function targetWith(mode: string): { target: Target; spawned: RemoteProcess[] } {
  const local = new LocalTarget();
  locals.push(local);
  const spawned: RemoteProcess[] = [];
  const target = Object.assign(Object.create(local) as Target, {
    spawn: async () => {
      const p = await local.spawn(`${process.execPath} ${script} ${mode}`);
      spawned.push(p);
      return p;
    },
  });
  return { target, spawned };
}

const plan = plans(
  'engine: { mode: fsync }\nworkload: { ops: 4, pages: 4 }\nfault: { kind: drop_writes }\n',
)[0]!;
const ops: WorkloadOp[] = [
  { kind: 'write', page: 0, value: 'a' },
  { kind: 'write', page: 1, value: 'b' },
] as unknown as WorkloadOp[];

test('a trial is one request: its phases are passed on, the workload is put back into the result', async (t) => {
  const { target } = targetWith('ok');
  const phases: TrialPhase[] = [];
  const agent = await TrialAgent.for(target);
  const r = await agent.run(plan, { ops, onPhase: (p) => phases.push(p) }, 10_000);
  t.deepEqual(phases, ['device', 'workload'], "only this trial's phases, in order");
  t.deepEqual(r.ops, ops);
  t.is(r.history.ops, r.ops);
  t.deepEqual(r.history.events, [{ kind: 'ack', op: 0 }] as unknown as typeof r.history.events);
  t.deepEqual(r.log, ['in the agent']);
  t.is(await TrialAgent.for(target), agent, 'one agent per target while it lives');
});

test('an error the agent reports is the trial harness error', async (t) => {
  const { target } = targetWith('error');
  const agent = await TrialAgent.for(target);
  const error = await t.throwsAsync(agent.run(plan, { ops }, 10_000), {
    instanceOf: HarnessError,
  });
  t.is(error.message, 'dmsetup create failed');
});

test('an agent that dies fails its trial with its last words, and the next trial starts another', async (t) => {
  const { target, spawned } = targetWith('die');
  const agent = await TrialAgent.for(target);
  const error = await t.throwsAsync(agent.run(plan, { ops }, 10_000), {
    instanceOf: HarnessError,
  });
  t.regex(error.message, /the trial agent ended \(agent: out of memory\)/);
  const next = await TrialAgent.for(target);
  t.not(next, agent);
  t.is(spawned.length, 2);
});

test('an agent silent for longer than allowed fails the trial and is killed', async (t) => {
  const { target, spawned } = targetWith('silent');
  const agent = await TrialAgent.for(target);
  const error = await t.throwsAsync(agent.run(plan, { ops }, 300), { instanceOf: HarnessError });
  t.regex(error.message, /went silent for 300 ms/);
  const end = await spawned[0]!.done;
  t.not(end.code, 0, 'the silent agent was killed');
});
