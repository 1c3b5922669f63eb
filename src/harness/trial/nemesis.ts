import type { StopEvent } from '../../model/history.ts';
import type { EngineSession } from './engine-session.ts';
import type { StopPoint } from './syscall-stop.ts';

/** A point in the workload at which the feed waits for the nemesis to act (`afterOp: N`). */
export type Cut = { at: number; label: string };

/**
 * The fault side of a trial (Jepsen's nemesis): what it asks of powercut's tracer, and what it
 * does while the engine runs. The trial core (run-trial.ts) drives every nemesis through the
 * same lifecycle: setup (before the engine starts) → start(session) → onStop (each tracer
 * stop) → waitCut (each of the feed's cuts) → stop (no timer fires after it) → finish (throws
 * if the fault failed or never happened) → the crash.
 *
 * - FlakeyNemesis (flakey-nemesis.ts): arms and disarms a dm-flakey table at exact points.
 * - LogWritesNemesis (log-writes-nemesis.ts): records every write, with a mark at each ack.
 */
export interface Nemesis {
  /** For the tracer: points to stop the engine at, or the table to put an ack mark into. */
  readonly tracing: { stops?: readonly StopPoint[]; markAcks?: string };
  /** Marks the engine is asked to pause at (the pause-at extension, the one cooperative point). */
  readonly pauseAt: readonly string[];
  /** Where the feed waits for the nemesis, in workload order. */
  readonly cuts: readonly Cut[];
  setup(): Promise<void>;
  start(session: EngineSession): void;
  onStop(stop: StopEvent): Promise<void>;
  waitCut(cut: Cut, quietMs: number, timeoutMs: number): Promise<void>;
  stop(): void;
  finish(session: EngineSession): Promise<void>;
}
