import type { TrialPlan } from '../../model/trial-plan.ts';
import type { TrialPhase, TrialResult } from '../../model/trial-result.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import { HarnessError } from '../errors.ts';
import { lastWords, livePerTarget } from '../target/process-per-target.ts';
import type { RemoteProcess, Target } from '../target/target.ts';
import { guestAgentCommand } from '../trial/guest-engine.ts';
import { heartbeatMs, type AgentMessage, type AgentRequest } from './agent-protocol.ts';

type Pending = {
  onPhase?: (phase: TrialPhase) => void;
  heard: () => void;
  settle: (outcome: { result: TrialResult } | { error: Error }) => void;
  ops: WorkloadOp[];
};

export type AgentTrialOptions = {
  ops: WorkloadOp[];
  onPhase?: (phase: TrialPhase) => void;
  timeoutMs?: number;
  quietMs?: number;
};

/**
 * The host's end of the trial agent (agent-serve.ts): one long-lived process per target
 * connection, started on first use, that runs whole trials inside the target. A trial is one
 * request; the agent streams its phases and a heartbeat, then its result. An agent that ends,
 * or goes silent for longer than a step may take, fails the trials it holds (harness errors)
 * and is dropped: the next trial starts a new one, and the stale sweep removes what the lost
 * trials left (their owner lock died with the agent).
 */
export class TrialAgent {
  private n = 0;
  private readonly pending = new Map<number, Pending>();
  private ended = false;

  private constructor(private readonly process: RemoteProcess) {
    process.stdin.on('error', () => undefined);
    void (async () => {
      try {
        for await (const line of process.lines) this.receive(line);
      } catch {
        // the connection went away: handled below like an exit
      }
      await this.end('the trial agent ended');
    })();
  }

  /** The target's agent (started now if it has none, or its last one ended). */
  static for(target: Target): Promise<TrialAgent> {
    return livePerTarget(
      agents,
      target,
      () => target.spawn(guestAgentCommand).then((p) => new TrialAgent(p)),
      (known) => known.ended,
    );
  }

  /**
   * Runs one trial in the target: `plan` on exactly `ops`. Fails with a HarnessError when the
   * agent says so, ends, or is silent for `silenceMs` (it beats every few seconds).
   */
  run(plan: TrialPlan, options: AgentTrialOptions, silenceMs: number): Promise<TrialResult> {
    if (this.ended) return Promise.reject(new HarnessError('the trial agent had ended'));
    const id = ++this.n;
    const { ops, onPhase, timeoutMs, quietMs } = options;
    return new Promise<TrialResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const heard = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.pending.get(id)?.settle({
            error: new HarnessError(
              `the trial agent went silent for ${silenceMs} ms during a trial (it beats every ${heartbeatMs} ms); it was killed`,
            ),
          });
          void this.kill();
        }, silenceMs);
      };
      this.pending.set(id, {
        ...(onPhase ? { onPhase } : {}),
        heard,
        ops,
        settle: (outcome) => {
          clearTimeout(timer);
          this.pending.delete(id);
          if ('error' in outcome) reject(outcome.error);
          else resolve(outcome.result);
        },
      });
      heard();
      const request: AgentRequest = {
        id,
        plan,
        ops,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(quietMs !== undefined ? { quietMs } : {}),
      };
      this.process.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  private receive(line: string): void {
    let message: AgentMessage;
    try {
      message = JSON.parse(line) as AgentMessage;
    } catch {
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    pending.heard();
    if ('phase' in message) pending.onPhase?.(message.phase);
    else if ('error' in message)
      pending.settle({
        error: message.harness
          ? new HarnessError(message.error)
          : new Error(`in the trial agent: ${message.error}`),
      });
    else if ('result' in message) {
      const { events, ...rest } = message.result;
      const ops = pending.ops;
      pending.settle({ result: { ...rest, ops, history: { ops, events } } });
    }
  }

  private async end(why: string): Promise<void> {
    this.ended = true;
    const words = this.pending.size > 0 ? await lastWords(this.process) : '';
    for (const pending of [...this.pending.values()])
      pending.settle({ error: new HarnessError(`${why}${words}`) });
  }

  private async kill(): Promise<void> {
    this.ended = true;
    await this.process.kill('KILL').catch(() => undefined);
  }
}

const agents = new WeakMap<Target, Promise<TrialAgent>>();
