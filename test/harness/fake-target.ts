import { loopListScript } from '../../src/harness/device/guards.ts';
import { PassThrough } from 'node:stream';
import type {
  ExecOptions,
  ExecResult,
  RemoteProcess,
  Target,
} from '../../src/harness/target/target.ts';
import { batchLead, batchParts } from '../../src/harness/undo-stack.ts';

type Answer = { stdout?: string; stderr?: string; code?: number } | undefined;
export type Responder = (command: string) => Answer;

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
    // A batch of undo steps (undo-stack.ts): each part answered alone, as the shell would.
    const parts = batchParts(command);
    if (parts) {
      // A lead script before the batch (UndoStack.runAfter) runs first, its output apart.
      const lead = batchLead(command);
      const led = lead === undefined ? undefined : await this.exec(lead, { check: false });
      const outcomes: string[] = led ? [`${led.stdout}\n__powercut_lead_end ${led.code ?? 1}`] : [];
      for (const [i, part] of parts.entries()) {
        const r = await this.exec(part, { check: false });
        outcomes.push(`__undo ${i} ${r.code ?? 1} `);
      }
      return { command, code: 0, stdout: `${outcomes.join('\n')}\n`, stderr: led?.stderr ?? '' };
    }
    this.commands.push(command);
    // What the command reads on stdin is part of it (a dm table goes to dmsetup that way).
    const seen =
      typeof options.stdin === 'string' ? `${command} <<< ${options.stdin.trim()}` : command;
    this.timeline.push(`start ${seen}`);
    const ms = this.takes(command);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    this.timeline.push(`end ${seen}`);
    const answer = this.responders.map((r) => r(command)).find((a) => a !== undefined) ?? {};
    const result = {
      command,
      code: answer.code ?? 0,
      stdout: answer.stdout ?? '',
      stderr: answer.stderr ?? '',
    };
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

/**
 * A fake machine whose losetup hands out /dev/loop7 (and /dev/loop8) over the files asked for,
 * and lists them (`losetup -J -l`) as backed by those files; `fail` picks commands that exit 1.
 */
export function fakeLoopMachine(
  fail: (command: string) => boolean = () => false,
  takes: (command: string) => number = () => 0,
  /** Answers asked before any other (a script's own output, say). */
  first: Responder[] = [],
): FakeTarget {
  let loops: { name: string; 'back-file': string }[] = [];
  // loopListScript's lines: DEVICE BACKING-FILE.
  const listing = () => loops.map((l) => `${l.name} ${l['back-file']}\n`).join('');
  return new FakeTarget(
    [
      ...first,
      (c) => (fail(c) ? { code: 1 } : undefined),
      (c) =>
        c.includes(' flakey $L ')
          ? { stdout: 'drop_writes\nerror_writes\ncorrupt_bio_byte\n' }
          : undefined,
      (c) => {
        if (!c.includes('losetup --find --show')) return undefined;
        const files = [...c.matchAll(/losetup --find --show ([^\s)]+)/g)].map((m) => m[1]!);
        loops = files.map((f, i) => ({ name: `/dev/loop${7 + i}`, 'back-file': f }));
        return { stdout: `${loops.map((l) => l.name).join('\n')}\n---\n${listing()}---\n` };
      },
      (c) => (c === loopListScript() ? { stdout: listing() } : undefined),
    ],
    takes,
  );
}
