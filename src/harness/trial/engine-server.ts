import { HarnessError } from '../errors.ts';
import { withTimeout } from '../timeout.ts';
import { lastWords, livePerTarget } from '../target/process-per-target.ts';
import type { ExecResult, RemoteProcess, Target } from '../target/target.ts';
import { guestEngineCommand } from './guest-engine.ts';
import { quote } from './engine-command.ts';
import type { ServeAnswer } from '../../engine/serve.ts';

/**
 * The built-in engines' long-lived process in a target (`powercut-engine serve`, serve.ts),
 * one per target connection, started on first use: a trial's recover and dump cost a request
 * instead of a node start (1.8-2.4 s under TCG). It ends with the connection (its stdin
 * closes). Requests go one at a time; a server that dies or times out is dropped, and the
 * next request starts a new one.
 */
export class EngineServer {
  private n = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<number, (answer: ServeAnswer) => void>();
  private ended = false;

  private constructor(private readonly process: RemoteProcess) {
    // A write to a server that just went away fails here, not as an unhandled error event:
    // the request then sees the server end.
    process.stdin.on('error', () => undefined);
    void (async () => {
      try {
        for await (const line of process.lines) {
          let answer: ServeAnswer;
          try {
            answer = JSON.parse(line) as ServeAnswer;
          } catch {
            continue;
          }
          this.pending.get(answer.id)?.(answer);
          this.pending.delete(answer.id);
        }
      } catch {
        // the connection went away: handled below like an exit
      }
      this.end();
    })();
  }

  /** Its pid in the target. */
  get pid(): number {
    return this.process.pid;
  }

  /** The target's server (started now if it has none, or its last one ended). */
  static for(target: Target): Promise<EngineServer> {
    return livePerTarget(
      servers,
      target,
      () => target.spawn(`${guestEngineCommand} serve`).then((p) => new EngineServer(p)),
      (known) => known.ended,
    );
  }

  /**
   * Runs `powercut-engine <argv>` (recover or dump) in the server: the one-shot command's exit
   * code, stdout and stderr.
   */
  run(argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
    const next = this.queue.then(() => this.request(argv, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async request(argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
    const command = `${guestEngineCommand} ${argv.map(quote).join(' ')} (served)`;
    if (this.ended) throw new HarnessError(`${command}: the engine server had ended`);
    const id = ++this.n;
    const answered = new Promise<ServeAnswer>((resolve) => this.pending.set(id, resolve));
    this.process.stdin.write(`${JSON.stringify({ id, argv })}\n`);
    const answer = await withTimeout(answered, timeoutMs, `\`${command}\``, () => this.kill());
    if (answer.code < 0)
      throw new HarnessError(`${command}: the engine server ended${await lastWords(this.process)}`);
    return { command, code: answer.code, stdout: answer.stdout, stderr: answer.stderr };
  }

  private end(): void {
    this.ended = true;
    for (const resolve of this.pending.values())
      resolve({ id: -1, code: -1, stdout: '', stderr: '' });
    this.pending.clear();
  }

  private async kill(): Promise<void> {
    this.end();
    await this.process.kill('KILL');
  }
}

const servers = new WeakMap<Target, Promise<EngineServer>>();

/** What a trial asks of the built-in engines after the crash: one served command at a time. */
export type EngineRequests = Pick<EngineServer, 'run'>;

const inProcess = new WeakMap<Target, EngineRequests>();

/**
 * Where `target`'s recover and dump requests go: its engine server, or, inside the trial
 * agent (which runs in the target already), the agent's own process.
 */
export function engineRequests(target: Target): Promise<EngineRequests> {
  return Promise.resolve(inProcess.get(target) ?? EngineServer.for(target));
}

/** Serves `target`'s engine requests with `requests` (the trial agent: no second node start). */
export function serveEnginesInProcess(target: Target, requests: EngineRequests): void {
  inProcess.set(target, requests);
}
