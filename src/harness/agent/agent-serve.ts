import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { runServed } from '../../engine/serve.ts';
import { HarnessError } from '../errors.ts';
import { LocalTarget } from '../target/local.ts';
import type { Target } from '../target/target.ts';
import { serveEnginesInProcess } from '../trial/engine-server.ts';
import { runTrialSteps } from '../trial/trial-steps.ts';
import { heartbeatMs, type AgentMessage, type AgentRequest } from './agent-protocol.ts';

/**
 * The trial agent, inside the target: runs each requested trial there, step by step on this
 * machine (LocalTarget), so a trial costs the host one request instead of a round trip per
 * step. The built-in engines' recover and dump run in this process. Trials may overlap (each
 * owns its own named resources). When the input ends (the host or its connection went away),
 * the trials still running finish and clean up, then the owner lock is given up.
 */
export async function serveTrials(
  input: Readable,
  output: Writable,
  target: Target = new LocalTarget(),
): Promise<void> {
  // One at a time, as the engine server answers them (overlapping trials share this process).
  let queue: Promise<unknown> = Promise.resolve();
  serveEnginesInProcess(target, {
    run: (argv) => {
      const next = queue.then(async () => ({
        command: `powercut-engine ${argv.join(' ')} (in the agent)`,
        ...(await runServed(argv)),
      }));
      queue = next.catch(() => undefined);
      return next;
    },
  });
  const send = (message: AgentMessage): void => {
    output.write(`${JSON.stringify(message)}\n`);
  };
  const running = new Set<Promise<void>>();
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const trial = runOne(target, line, send);
    running.add(trial);
    void trial.finally(() => running.delete(trial));
  }
  await Promise.allSettled([...running]);
  await target.teardown();
}

function withoutOps<T extends { ops: unknown }>(value: T): Omit<T, 'ops'> {
  const copy: Partial<T> = { ...value };
  delete copy.ops;
  return copy as Omit<T, 'ops'>;
}

async function runOne(
  target: Target,
  line: string,
  send: (message: AgentMessage) => void,
): Promise<void> {
  let request: AgentRequest;
  try {
    request = JSON.parse(line) as AgentRequest;
  } catch {
    send({ id: -1, error: `agent: not a JSON request: ${line.slice(0, 80)}`, harness: true });
    return;
  }
  const { id, plan, ops, timeoutMs, quietMs } = request;
  const heartbeat = setInterval(() => send({ id, alive: true }), heartbeatMs);
  try {
    const result = await runTrialSteps(target, plan, {
      ops,
      onPhase: (phase) => send({ id, phase }),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(quietMs !== undefined ? { quietMs } : {}),
    });
    // The host has the workload (it sent it): the result goes back without it.
    const { history, ...rest } = result;
    send({ id, result: { ...withoutOps(rest), events: history.events } });
  } catch (error) {
    send({ id, error: (error as Error).message, harness: error instanceof HarnessError });
  } finally {
    clearInterval(heartbeat);
  }
}
