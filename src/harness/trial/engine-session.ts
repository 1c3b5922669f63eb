import type { EngineEvent, HistoryEvent, NemesisEvent, StopEvent } from '../../model/history.ts';
import type { InputLine } from '../../model/workload.ts';
import { HarnessError } from '../errors.ts';
import type { RemoteProcess, Target } from '../target/target.ts';
import { parseTracerLine } from './syscall-stop.ts';

type Waiter = { test: () => boolean; resolve: () => void; reject: (error: Error) => void };

/**
 * One running `ENGINE run` inside the target, under powercut's tracer: feeds workload lines to
 * its stdin, collects the events it prints into the history (with the harness's nemesis events
 * and the tracer's stops inserted in order), and lets the trial wait until the engine reached a
 * point. When the tracer stops the engine, `onStop` acts (arms a fault) and the engine resumes.
 */
export class EngineSession {
  readonly history: HistoryEvent[] = [];
  readonly badLines: string[] = [];
  /** The tracer's notes (e.g. `inexact-mark`), with the op they concern. */
  readonly notes: { note: string; op?: number }[] = [];
  private waiters: Waiter[] = [];
  private ended = false;
  private endError: Error | undefined;
  private readonly reader: Promise<void>;
  private stops: Promise<void> = Promise.resolve();
  private stderrAtEnd = '';

  private constructor(
    private readonly process: RemoteProcess,
    private readonly onStop: (stop: StopEvent) => Promise<void>,
  ) {
    this.reader = this.readEvents();
  }

  /**
   * Starts `command` (usually `tracedCommand(...)`). `onStop` runs for each stop of the tracer,
   * one at a time, and the engine is resumed when it returns (also if it throws: the caller
   * records its own failures).
   */
  static async start(
    target: Target,
    command: string,
    o: { onStop?: (stop: StopEvent) => Promise<void> } = {},
  ): Promise<EngineSession> {
    return new EngineSession(await target.spawn(command), o.onStop ?? (async () => undefined));
  }

  /** A line for the tracer: `resume LABEL` (end a stop) or `stop LABEL` (stop the engine now). */
  control(verb: 'resume' | 'stop', label: string): void {
    if (!this.ended) this.process.stdin.write(`#powercut ${verb} ${label}\n`);
  }

  /** Resolves once every stop seen so far was handled and the engine resumed. */
  stopsHandled(): Promise<void> {
    return this.stops;
  }

  /** Writes one workload or control line. */
  async send(line: InputLine): Promise<void> {
    if (this.ended) return;
    const ok = this.process.stdin.write(`${JSON.stringify(line)}\n`);
    if (!ok)
      await new Promise<void>((resolve) => this.process.stdin.once('drain', () => resolve()));
  }

  closeInput(): void {
    this.process.stdin.end();
  }

  /** Records a harness event at this point of the history. */
  nemesis(action: NemesisEvent['action'], fault?: NemesisEvent['fault']): void {
    const last = this.history.at(-1);
    this.history.push({ type: 'nemesis', t: last?.t ?? 0, action, ...(fault ? { fault } : {}) });
  }

  /** Resolves once `test` holds for the collected history (checked after every event). */
  waitUntil(
    test: (history: readonly HistoryEvent[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    if (test(this.history)) return Promise.resolve();
    if (this.ended) return Promise.reject(this.endedBefore(what));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        test: () => test(this.history),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new HarnessError(`engine did not reach ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Waits until `test` holds, or until the engine is idle (`idle` holds: it has taken every op
   * it was given) and has printed nothing for `quietMs`: an engine may hold answers back (a
   * buggy engine sitting on failed ops), and the trial must go on. A slow fdatasync is not
   * idleness: an op not yet taken keeps the harness waiting. Returns whether `test` held.
   */
  async settle(
    test: (history: readonly HistoryEvent[]) => boolean,
    idle: (history: readonly HistoryEvent[]) => boolean,
    quietMs: number,
    timeoutMs: number,
    what: string,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = this.history.length;
      try {
        await this.waitUntil(test, Math.min(quietMs, Math.max(1, deadline - Date.now())), what);
        return true;
      } catch (error) {
        if (this.ended) throw error;
        if (Date.now() >= deadline) throw error;
        if (this.history.length === seen && idle(this.history)) return false;
      }
    }
  }

  /** Pulls the plug on the engine process (SIGKILL) and waits for its output to end. */
  async kill(): Promise<void> {
    if (!this.ended) await this.process.kill('KILL').catch(() => undefined);
    await this.reader;
  }

  /** Waits for the engine to exit by itself (after its input was closed). */
  async finished(timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new HarnessError(`engine did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      ).unref(),
    );
    const result = await Promise.race([this.process.done, timeout]);
    await this.reader;
    return { code: result.code, stderr: result.stderr };
  }

  get exited(): boolean {
    return this.ended;
  }

  private async readEvents(): Promise<void> {
    try {
      for await (const line of this.process.lines) {
        if (line.trim() === '') continue;
        const event = parseEvent(line);
        const tracer = event ? null : parseTracerJson(line);
        if (event) this.history.push(event);
        else if (tracer?.type === 'stop') {
          this.history.push(tracer.stop);
          const stop = tracer.stop;
          this.stops = this.stops
            .then(() => this.onStop(stop))
            .catch(() => undefined)
            .then(() => this.control('resume', stop.label));
        } else if (tracer?.type === 'note')
          this.notes.push({
            note: tracer.note,
            ...(tracer.op !== undefined ? { op: tracer.op } : {}),
          });
        else this.badLines.push(line);
        this.wake();
      }
    } catch (error) {
      this.endError = error as Error;
    } finally {
      this.ended = true;
      // Its stderr says why it ended: wait for it briefly, to put it into the error.
      const end = await Promise.race([
        this.process.done.catch(() => undefined),
        new Promise<undefined>((resolve) => void setTimeout(resolve, 2000)),
      ]);
      this.stderrAtEnd = end?.stderr ?? '';
      for (const w of this.waiters) w.reject(this.endedBefore('the expected point'));
      this.waiters = [];
    }
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.test());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  private endedBefore(what: string): HarnessError {
    const tail = this.stderrAtEnd
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-5);
    return new HarnessError(
      `engine exited before reaching ${what}${tail.length > 0 ? `; its stderr: ${tail.join(' | ')}` : ' (it wrote nothing on stderr)'}`,
      { cause: this.endError },
    );
  }
}

function parseTracerJson(line: string): ReturnType<typeof parseTracerLine> {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object'
      ? parseTracerLine(value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Parses one protocol event line; null when it is not a valid v1 event. */
export function parseEvent(line: string): EngineEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object') return null;
  const e = value as Record<string, unknown>;
  const t = typeof e.t === 'number' ? e.t : 0;
  const id = typeof e.id === 'number' ? e.id : undefined;
  switch (e.type) {
    case 'invoke':
    case 'ok':
      return id === undefined ? null : { id, type: e.type, t };
    case 'fail':
      return id === undefined
        ? null
        : { id, type: 'fail', t, err: typeof e.err === 'string' ? e.err : 'EUNKNOWN' };
    case 'mark':
      return typeof e.name === 'string'
        ? {
            ...(id === undefined ? {} : { id }),
            type: 'mark',
            t,
            name: e.name,
            ...(e.paused === true ? { paused: true } : {}),
          }
        : null;
    default:
      return null;
  }
}
