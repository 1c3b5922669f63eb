import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { HarnessError } from '../errors.ts';
import { withTimeout } from '../timeout.ts';
import { shellQuote } from './shell.ts';

/** A long-lived `sh` reading commands on its stdin, and how to end it with all it started. */
export type ShellProcess = {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Ends the shell and every process under it (a timed-out command's whole tree). */
  killTree(): Promise<void>;
  /** Settles when the shell itself exits (its children may still hold its output open). */
  exited?: Promise<unknown>;
  /** Whether the shell keeps this process alive: while a command runs, and not when idle. */
  hold?(busy: boolean): void;
};

export type ShellOutcome = { code: number; stdout: string; stderr: string };

/**
 * One long-lived `sh` in the target that runs commands one after another. A command costs a
 * subshell (a fork of the shell) instead of a new ssh channel and a shell started for it:
 * 1-10 ms against 56-83 ms an exec in the TCG guest (measured 2026-12-07), and a trial makes
 * five or six.
 *
 * Each command runs as `( eval 'command' ) </dev/null` (no state leaks from one to the next;
 * a syntax error or an `exit` ends only the subshell; nothing reads the commands behind it),
 * then the shell prints an end line carrying a random nonce and the exit code on stdout, and
 * one on stderr. The command's output is what came before the end lines. A command must not
 * leave a process behind that still writes to its stdout or stderr (none of powercut's do);
 * one that might (a user's engine) is run as a process of its own (ExecOptions.ownProcess).
 */
export class CommandShell {
  private readonly nonce = randomBytes(12).toString('hex');
  private n = 0;
  private running: Running | undefined;
  private ended = false;
  private readonly out = new EndMarked();
  private readonly err = new EndMarked();

  constructor(private readonly shell: ShellProcess) {
    shell.stdout.on('data', (chunk: Buffer) => {
      if (this.out.push(chunk)) this.settle();
    });
    shell.stderr.on('data', (chunk: Buffer) => {
      if (this.err.push(chunk)) this.settle();
    });
    const end = () => this.end('the command shell ended');
    shell.stdout.once('close', end);
    shell.stdout.once('end', end);
    shell.stdin.on('error', () => end());
    void shell.exited?.then(end, end);
  }

  /** False once the shell ended (or was killed): it takes no further command. */
  get alive(): boolean {
    return !this.ended;
  }

  /**
   * Runs `command` and returns its exit code and output. With `timeoutMs`, a command still
   * running then is ended with the whole shell (killTree) and a HarnessError thrown.
   */
  async run(command: string, timeoutMs?: number): Promise<ShellOutcome> {
    if (this.ended) throw new HarnessError('the command shell has ended');
    if (this.running) throw new HarnessError('the command shell is busy');
    const id = ++this.n;
    const mark = `${this.nonce}:${id}`;
    const done = new Promise<ShellOutcome>((resolve, reject) => {
      this.running = { resolve, reject };
    });
    this.out.expect(new RegExp(`\\n${mark}:(\\d+)\\n$`));
    this.err.expect(new RegExp(`\\n${mark}\\n$`));
    this.shell.hold?.(true);
    this.shell.stdin.write(
      `( eval ${shellQuote(command)} ) </dev/null; __pc=$?; printf '\\n${mark}:%d\\n' $__pc; printf '\\n${mark}\\n' >&2\n`,
    );
    try {
      return timeoutMs === undefined
        ? await done
        : await withTimeout(done, timeoutMs, `\`${command}\``, () => this.kill());
    } finally {
      this.running = undefined;
      this.shell.hold?.(false);
    }
  }

  /** Ends the shell and whatever runs under it (the timeout is what its command reports). */
  private async kill(): Promise<void> {
    this.ended = true;
    this.running = undefined;
    await this.shell.killTree();
  }

  /** Closes the shell's stdin: it exits once its current command is done. */
  close(): void {
    this.ended = true;
    this.shell.stdin.end();
  }

  private settle(): void {
    const running = this.running;
    const code = this.out.ended?.[1];
    if (!running || code === undefined || !this.err.ended) return;
    const outcome = { code: Number(code), stdout: this.out.take(), stderr: this.err.take() };
    this.running = undefined;
    running.resolve(outcome);
  }

  private end(why: string): void {
    if (this.ended && !this.running) return;
    this.ended = true;
    const running = this.running;
    this.running = undefined;
    running?.reject(new HarnessError(`${why} before the command finished`));
  }
}

type Running = { resolve: (outcome: ShellOutcome) => void; reject: (error: Error) => void };

/**
 * A stream's bytes up to an end line: only the tail is searched (the end line is the last
 * thing a command's stream gets), so a large output costs no rescans.
 */
class EndMarked {
  private chunks: Buffer[] = [];
  private tail = '';
  private pattern: RegExp | undefined;
  ended: RegExpExecArray | undefined;

  /** Starts a command: what arrived between commands belongs to none and is dropped. */
  expect(pattern: RegExp): void {
    this.chunks = [];
    this.tail = '';
    this.pattern = pattern;
    this.ended = undefined;
  }

  /** Adds a chunk; true when the end line arrived with it. */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    // The end line is under 64 bytes: the last 96 hold it even when it arrived split.
    this.tail = (this.tail + chunk.toString('latin1')).slice(-96);
    if (!this.pattern || this.ended) return false;
    this.ended = this.pattern.exec(this.tail) ?? undefined;
    return this.ended !== undefined;
  }

  /** The command's output, without the end line. */
  take(): string {
    const all = Buffer.concat(this.chunks);
    const output = all.subarray(0, all.length - (this.ended?.[0].length ?? 0)).toString();
    this.chunks = [];
    this.pattern = undefined;
    return output;
  }
}
