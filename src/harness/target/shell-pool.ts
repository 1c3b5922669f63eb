import type { CommandShell, ShellOutcome } from './command-shell.ts';
import { checkResult } from './exec-result.ts';
import type { ExecOptions, ExecResult } from './target.ts';

/**
 * The command shells of one target connection: an idle one runs the next command, a new one is
 * started while fewer than `max` exist, and past that the caller runs the command its own way
 * (run() answers undefined), so commands at once never queue behind each other.
 */
export class ShellPool {
  private readonly idle: CommandShell[] = [];
  private count = 0;
  private closed = false;

  constructor(
    private readonly start: () => Promise<CommandShell>,
    private readonly max = 3,
  ) {}

  /**
   * A target's exec in a shell, for a command that may take one (no stdin, not `ownProcess`):
   * its result (checked as `check` asks), or undefined when the caller must run it its own way.
   */
  async exec(command: string, options: ExecOptions): Promise<ExecResult | undefined> {
    if (options.stdin !== undefined || options.ownProcess) return undefined;
    const outcome = await this.run(command, options.timeoutMs);
    return outcome && checkResult({ command, ...outcome }, options.check ?? true);
  }

  /** The command's outcome, or undefined when no shell could take it. */
  async run(command: string, timeoutMs?: number): Promise<ShellOutcome | undefined> {
    const shell = await this.take();
    if (!shell) return undefined;
    try {
      return await shell.run(command, timeoutMs);
    } finally {
      if (shell.alive && !this.closed) this.idle.push(shell);
      else this.drop(shell);
    }
  }

  /** Ends every idle shell; busy ones end after their command. */
  close(): void {
    this.closed = true;
    for (const shell of this.idle.splice(0)) this.drop(shell);
  }

  private async take(): Promise<CommandShell | undefined> {
    if (this.closed) return undefined;
    for (let shell = this.idle.pop(); shell; shell = this.idle.pop()) {
      if (shell.alive) return shell;
      this.count--;
    }
    if (this.count >= this.max) return undefined;
    this.count++;
    try {
      return await this.start();
    } catch {
      // The caller's own way of running the command meets and reports the failure; a target
      // that cannot keep a shell runs every command that way from now on.
      this.count--;
      this.closed = true;
      return undefined;
    }
  }

  private drop(shell: CommandShell): void {
    shell.close();
    this.count--;
  }
}
