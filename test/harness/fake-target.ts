import { PassThrough } from 'node:stream';
import type {
  ExecOptions,
  ExecResult,
  RemoteProcess,
  Target,
} from '../../src/harness/target/target.ts';

type Answer = { stdout?: string; code?: number } | undefined;
type Responder = (command: string) => Answer;

/**
 * A Target that runs nothing: it records every command and answers from a list of responders
 * (the first that returns an answer wins; default: exit 0, no output). For unit tests of what
 * the harness asks a machine to do, in which order, and on what.
 */
export class FakeTarget implements Target {
  readonly kind = 'local' as const;
  readonly description = 'fake target';
  readonly commands: string[] = [];
  readonly spawned: string[] = [];
  /** `start <command>` and `end <command>`, in the order they happened (to see overlaps). */
  readonly timeline: string[] = [];

  constructor(
    private readonly responders: Responder[] = [],
    /** How long a command takes (default: no time at all). */
    private readonly takes: (command: string) => number = () => 0,
  ) {}

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.commands.push(command);
    this.timeline.push(`start ${command}`);
    const ms = this.takes(command);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    this.timeline.push(`end ${command}`);
    const answer = this.responders.map((r) => r(command)).find((a) => a !== undefined) ?? {};
    const result = { command, code: answer.code ?? 0, stdout: answer.stdout ?? '', stderr: '' };
    if ((options.check ?? true) && result.code !== 0)
      throw new Error(`\`${command}\` exited ${result.code}`);
    return result;
  }

  /** Spawned commands print `lines` (the owner lock's holder prints that it is locked). */
  async spawn(command: string): Promise<RemoteProcess> {
    this.spawned.push(command);
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    const lines = command.includes('flock') ? ['__powercut_owner_locked'] : [];
    let end: () => void = () => undefined;
    const done = new Promise<ExecResult>((resolve) => {
      end = () => resolve({ command, code: 0, stdout: '', stderr: '' });
    });
    stdin.on('finish', () => end());
    return {
      stdin,
      pid: 4242,
      lines: (async function* () {
        yield* lines;
        await done;
      })(),
      done,
      kill: async () => {
        stdout.end();
        end();
      },
    };
  }

  async upload(): Promise<void> {}
  async teardown(): Promise<void> {}
}
