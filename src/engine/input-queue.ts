import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { WorkloadOp } from '../model/workload.ts';
import { parseInputLine } from './protocol.ts';

/**
 * Reads stdin continuously: workload ops are queued for the engine, `{"op":"resume"}` control
 * lines are handled out of band (they release an engine paused at a mark even while ops are
 * still queued ahead of them).
 */
export class InputQueue {
  private readonly ops: WorkloadOp[] = [];
  private resumes = 0;
  private ended = false;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(input: Readable) {
    let n = 0;
    const rl = createInterface({ input, crlfDelay: Infinity });
    rl.on('line', (text) => {
      n++;
      if (text.trim() === '' || this.error) return;
      try {
        const line = parseInputLine(text, n);
        if (line.op === 'resume') this.resumes++;
        else this.ops.push(line);
      } catch (error) {
        this.error = error as Error;
      }
      this.wake();
    });
    rl.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** The workload as an async iterable; throws the first malformed line's error. */
  async *workload(): AsyncGenerator<WorkloadOp> {
    for (;;) {
      if (this.error) throw this.error;
      const op = this.ops.shift();
      if (op) yield op;
      else if (this.ended) return;
      else await this.next();
    }
  }

  /** Waits for a resume line (or the end of input). */
  async resumed(): Promise<void> {
    while (this.resumes === 0 && !this.ended) await this.next();
    if (this.resumes > 0) this.resumes--;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
