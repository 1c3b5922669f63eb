import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * `count` long-lived `sh` processes, each running `script` once per request: a request is a
 * tab-separated line of arguments on the shell's stdin (`fixedArgs` first; the script reads
 * them as `$1`, `$2`, ...), and the script's run ends when the worker prints the line
 * `done <status>`. A spawn from node forks node's whole address space (13-16 ms of its one
 * thread per state, measured with execa on a 2-core host); `sh` forks e2fsprogs for a fraction
 * of that. The script runs as a shell function: it ends early with `return` (not `exit`), and
 * its output goes to files, not to stdout.
 * @example const workers = startScriptWorkers('e2fsck -fn "$1" >"$2" 2>&1', 3);
 *          await workers.run(['/dev/shm/state.img', '/dev/shm/state.fsck']); workers.close();
 */
export function startScriptWorkers(
  script: string,
  count: number,
  fixedArgs: readonly string[] = [],
): ScriptWorkers {
  // Each request line, split at its tabs (no globbing), becomes the positional parameters.
  // The script is a function (no subshell per run: a fork each); it ends early with `return`.
  const loop = `
set -f
run() {
${script}
}
while IFS= read -r line; do
  IFS='	'; set -- $line; unset IFS
  run "$@" </dev/null >/dev/null 2>&1
  echo "done $?"
done
`;
  const workers = Array.from({ length: Math.max(1, count) }, () => new Worker(loop));
  return {
    run(args) {
      const all = [...fixedArgs, ...args];
      for (const a of all)
        if (/[\t\n]/.test(a) || a === '')
          throw new Error(
            `script worker: argument ${JSON.stringify(a)} is empty or has a tab or newline`,
          );
      const worker = workers.find((w) => w.idle) ?? leastBusy(workers);
      return worker.run(all.join('\t'));
    },
    close() {
      for (const w of workers) w.close();
    },
  };
}

export type ScriptWorkers = {
  /**
   * Runs the script with these arguments on a worker (queued behind its current run); resolves
   * with the script's exit status (its last command's, or `return`'s).
   */
  run(args: readonly string[]): Promise<number>;
  /** Ends every worker once its queued runs are done (their stdin closes). */
  close(): void;
};

const leastBusy = (workers: Worker[]): Worker =>
  workers.reduce((a, b) => (b.queued < a.queued ? b : a));

class Worker {
  private readonly child: ChildProcess;
  private readonly pending: { resolve: (status: number) => void; reject: (e: Error) => void }[] =
    [];
  private ended: Error | undefined;
  private lastStderr = '';

  constructor(loop: string) {
    this.child = spawn('sh', ['-c', loop, 'script-worker'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const done = /^done (\d+)$/.exec(line);
      if (done) this.pending.shift()?.resolve(Number(done[1]));
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.lastStderr = chunk.toString().trim().split('\n').at(-1) ?? '';
    });
    // A closed pipe is reported by 'exit' below; without a listener it would throw.
    this.child.stdin!.on('error', () => undefined);
    this.child.on('error', (error) => this.end(error));
    this.child.on('exit', (code, signal) =>
      this.end(
        new Error(
          `script worker ended (${signal ?? `exit ${code}`})${this.lastStderr ? `: ${this.lastStderr}` : ''}`,
        ),
      ),
    );
  }

  get idle(): boolean {
    return this.pending.length === 0 && !this.ended;
  }

  get queued(): number {
    return this.ended ? Infinity : this.pending.length;
  }

  run(line: string): Promise<number> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin!.write(`${line}\n`);
    });
  }

  close(): void {
    this.child.stdin!.end();
  }

  private end(error: Error): void {
    this.ended ??= error;
    for (const p of this.pending.splice(0)) p.reject(error);
  }
}
