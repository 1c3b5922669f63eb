import { HarnessError } from '../errors.ts';
import type { RemoteProcess, Target } from './target.ts';

/**
 * One long-lived `sh` in the target, for many small commands in a row (a dm-log-writes mark per
 * acknowledgement): no new ssh channel or process tree per command.
 */
export class ShellSession {
  private n = 0;
  private readonly pending = new Map<number, (code: number) => void>();
  private readonly reader: Promise<void>;

  private constructor(private readonly process: RemoteProcess) {
    this.reader = (async () => {
      for await (const line of process.lines) {
        const m = /^__powercut_done (\d+) (\d+)$/.exec(line);
        if (!m) continue;
        this.pending.get(Number(m[2]))?.(Number(m[1]));
        this.pending.delete(Number(m[2]));
      }
      for (const resolve of this.pending.values()) resolve(-1);
      this.pending.clear();
    })();
  }

  static async start(target: Target): Promise<ShellSession> {
    return new ShellSession(await target.spawn('sh'));
  }

  /** Runs one command line; throws when it exits non-zero. */
  async run(command: string): Promise<void> {
    const id = ++this.n;
    const code = new Promise<number>((resolve) => this.pending.set(id, resolve));
    this.process.stdin.write(`${command} >/dev/null; echo "__powercut_done $? ${id}"\n`);
    const exit = await code;
    if (exit !== 0) throw new HarnessError(`\`${command}\` exited ${exit}`);
  }

  async close(): Promise<void> {
    this.process.stdin.end();
    await this.process.done.catch(() => undefined);
    await this.reader.catch(() => undefined);
  }
}
