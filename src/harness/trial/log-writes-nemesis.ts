import type { StopEvent } from '../../model/history.ts';
import type { LogWritesDevice } from '../device/fault-device.ts';
import type { EngineSession } from './engine-session.ts';
import type { Cut, Nemesis } from './nemesis.ts';
import { startMark } from './crash-states.ts';

/**
 * The nemesis of a log-writes trial: nothing is dropped while the engine runs; every write is
 * recorded, and the tracer stops the engine at the exit of each ack's write to stdout and puts
 * `ack:<id>` into the log right there, before the engine can write anything else. The faults
 * are chosen afterwards, as crash states of the recording (crash-states.ts).
 */
export class LogWritesNemesis implements Nemesis {
  readonly tracing: { markAcks: string };
  readonly pauseAt: readonly string[] = [];
  readonly cuts: readonly Cut[] = [];

  constructor(
    private readonly device: LogWritesDevice,
    private readonly log: string[],
  ) {
    this.tracing = { markAcks: device.names.table };
  }

  async setup(): Promise<void> {
    await this.device.mark(startMark);
    this.log.push(`recording with dm-log-writes to ${this.device.logLoopDevice}`);
  }

  start(): void {}

  /** No stop points are asked for: a stop would be the tracer's mistake, and is logged. */
  async onStop(stop: StopEvent): Promise<void> {
    this.log.push(`unexpected tracer stop ${stop.label} in a log-writes trial`);
  }

  async waitCut(): Promise<void> {}

  stop(): void {}

  async finish(session: EngineSession): Promise<void> {
    const inexact = session.notes.filter((n) => n.note === 'inexact-mark');
    if (inexact.length > 0)
      this.log.push(
        `${inexact.length} ack mark(s) came later than their ack (the engine wrote its stdout by a syscall the tracer does not trap): states near them are checked less strictly`,
      );
  }
}
