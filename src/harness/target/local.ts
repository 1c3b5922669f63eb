import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, copyFile, chmod, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checkResult } from './exec-result.ts';
import { withTimeout } from '../timeout.ts';
import { lineStream } from './lines.ts';
import type { ExecOptions, ExecResult, RemoteProcess, Target } from './target.ts';
import { CommandShell } from './command-shell.ts';
import { ShellPool } from './shell-pool.ts';

/** Kills the process group a detached child leads, while it is still this child's. */
function killGroup(child: ChildProcess): void {
  // Not yet reaped (no 'close'), so its pid, the group's id, is still this child's.
  if (child.exitCode === null && child.signalCode === null && child.pid)
    process.kill(-child.pid, 'SIGKILL');
}

/** A child or one of its pipes (net.Socket), which may or may not keep node running. */
type Unrefable = { ref(): void; unref(): void };

/**
 * This machine, as root, when its kernel has dm-flakey. A command without stdin runs in one of
 * its long-lived command shells (command-shell.ts: inside the TCG guest, where the trial agent
 * runs one of these, a node spawn of `sh -c` costs 56-92 ms); others through `sh -c`.
 */
export class LocalTarget implements Target {
  readonly kind = 'local' as const;
  readonly description = 'local kernel';
  /** Long-running children (engines, the owner lock's holder, shells): ended at teardown. */
  private readonly children = new Set<ChildProcess>();
  private readonly shells = new ShellPool(async () => this.startShell());

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const inShell = await this.shells.exec(command, options);
    if (inShell) return inShell;
    // A timed command leads its own process group, so a timeout kills the whole tree.
    const timed = options.timeoutMs !== undefined;
    const child = spawn('sh', ['-c', command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: timed,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A command that exits without reading its stdin makes the write fail with EPIPE: harmless.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
    const done = new Promise<ExecResult>((resolve) =>
      child.on('close', (code, signal) =>
        resolve({ command, code, ...(signal ? { signal } : {}), stdout, stderr }),
      ),
    );
    const result = options.timeoutMs
      ? await withTimeout(done, options.timeoutMs, `\`${command}\``, () => killGroup(child))
      : await done;
    return checkResult(result, options.check ?? true);
  }

  async spawn(command: string): Promise<RemoteProcess> {
    const child = spawn('sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    const lines = lineStream(child.stdout);
    return {
      stdin: child.stdin,
      lines: { [Symbol.asyncIterator]: () => lines },
      done: new Promise((resolve) =>
        child.on('close', (code) => resolve({ command, code, stdout: '', stderr })),
      ),
      pid: child.pid ?? -1,
      // Node's handle knows whether the child is still ours: no signal reaches a recycled pid.
      kill: async (signal = 'KILL') => {
        child.kill(`SIG${signal}`);
      },
    };
  }

  async upload(localPath: string, remotePath: string, mode = 0o644): Promise<void> {
    await mkdir(dirname(remotePath), { recursive: true });
    // Unique per upload: several connections of one process may upload the same file at once.
    const tmp = `${remotePath}.upload.${process.pid}.${randomBytes(4).toString('hex')}`;
    await copyFile(localPath, tmp);
    await chmod(tmp, mode);
    await rename(tmp, remotePath);
  }

  /** A command shell leading its own process group, so a timeout kills the whole tree. */
  private startShell(): CommandShell {
    const child = spawn('sh', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return new CommandShell({
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited: new Promise((resolve) => child.once('exit', resolve)),
      killTree: async () => killGroup(child),
      hold: (busy) => {
        for (const handle of [child, child.stdin, child.stdout, child.stderr] as Unrefable[])
          if (busy) handle.ref();
          else handle.unref();
      },
    });
  }

  async teardown(): Promise<void> {
    this.shells.close();
    // Closing stdin ends the owner lock's holder; what still runs after that is killed.
    for (const child of this.children) child.stdin?.end();
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const child of this.children) child.kill('SIGKILL');
  }
}
