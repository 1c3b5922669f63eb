import test from 'ava';
import { PassThrough } from 'node:stream';
import { serveTrials } from '../../../src/harness/agent/agent-serve.ts';
import type { AgentMessage } from '../../../src/harness/agent/agent-protocol.ts';
import { generateWorkload } from '../../../src/harness/trial/workload-gen.ts';
import { FakeTarget } from '../fake-target.ts';
import { plans } from '../trial/vm-helpers.ts';

// The agent's side, on a fake machine whose every command fails: a trial that cannot start
// is answered with its error (never a result), a line that is not a request is answered too,
// and the agent ends when its input does. Real trials in the agent: run-trial.test.ts.

test('the agent answers a failed trial with its error and ends with its input', async (t) => {
  const target = new FakeTarget([() => ({ code: 1 })]);
  const input = new PassThrough();
  const output = new PassThrough();
  const messages: AgentMessage[] = [];
  output.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      messages.push(JSON.parse(line) as AgentMessage);
  });
  const served = serveTrials(input, output, target);
  const plan = plans(
    'engine: { mode: fsync }\nworkload: { ops: 4, pages: 4 }\nfault: { kind: drop_writes }\n',
  )[0]!;
  input.write(`${JSON.stringify({ id: 7, plan, ops: generateWorkload(plan) })}\n`);
  input.write('not json\n');
  input.end();
  await served;
  const ends = messages.filter((m) => 'error' in m || 'result' in m);
  t.is(ends.length, 2);
  const failed = ends.find((m) => m.id === 7);
  t.true(failed && 'error' in failed, JSON.stringify(failed));
  t.regex((failed as { error: string }).error, /exited 1/);
  const refused = ends.find((m) => m.id === -1);
  t.regex((refused as { error: string }).error, /not a JSON request/);
  t.true(target.commands.length > 0, 'the trial ran its steps on the target it was given');
});
