import type { WorkloadOp } from './workload.ts';

/** Fault kinds the harness (dm-flakey) and the simulated device can inject. */
export type FaultKind =
  'drop_writes' | 'error_writes' | 'corrupt_bio_byte' | 'error_reads' | 'power_cut';

/**
 * A lying fault acknowledges writes it does not store faithfully: acks made in its window are
 * counted, never blamed, so the recorded window must cover every moment it may have been live
 * (widened). Under an erroring fault an ack is itself an anomaly, so its recorded window covers
 * only the moments it was surely live (narrowed). Transitions take time (a table reload, a
 * kernel timer), so the harness records each edge on the side this asks for.
 */
export const lyingFaults: readonly FaultKind[] = ['drop_writes', 'corrupt_bio_byte', 'power_cut'];
export const isLyingFault = (kind: FaultKind): boolean => lyingFaults.includes(kind);

/**
 * Events an engine writes on stdout, one JSON line each, flushed at once (engine protocol v1).
 * `t` is a monotonic clock in nanoseconds. Checkers use the event order, not `t`.
 */
export type InvokeEvent = { id: number; type: 'invoke'; t: number };
export type OkEvent = { id: number; type: 'ok'; t: number };
export type FailEvent = { id: number; type: 'fail'; t: number; err: string };
/** Emitted when the engine reaches a workload mark or an internal point (e.g. `cow:before-meta`). */
export type MarkEvent = { id?: number; type: 'mark'; t: number; name: string; paused?: boolean };
export type EngineEvent = InvokeEvent | OkEvent | FailEvent | MarkEvent;

/** Inserted by the harness (never by an engine): when a fault was armed or disarmed, when the plug was pulled. */
export type NemesisEvent = {
  type: 'nemesis';
  t: number;
  action: 'arm' | 'disarm' | 'crash';
  fault?: FaultKind;
};

/**
 * Inserted by the harness: powercut's tracer stopped the engine here (every thread, with no help
 * from the engine) for the nemesis to act. `event` is what stopped it (`ack`, `answers`,
 * `fdatasync`, `failed-sync`, ..., or `now` for a timed stop); `op` the op id of the line that
 * completed an `ack`/`answers` stop; `exact` false when the stop came later than the event
 * (an engine writing its stdout by an untraced syscall).
 */
export type StopEvent = {
  type: 'stop';
  t: number;
  label: string;
  event: string;
  n?: number;
  op?: number;
  path?: string;
  ret?: number;
  exact: boolean;
};

export type HistoryEvent = EngineEvent | NemesisEvent | StopEvent;

/**
 * One page of an engine's `dump`: a value, never written (null), or a detected corruption.
 * `physical` (optional): the physical page the engine keeps it on, when several logical pages
 * share one (slotted pages): the checker then names the write that tore it.
 */
export type DumpEntry =
  | { page: number; value: string | null; physical?: number }
  | { page: number; error: string; physical?: number };

/** Everything a checker needs: the ops fed to the engine and the events in the order they happened. */
export type History = {
  ops: readonly WorkloadOp[];
  events: readonly HistoryEvent[];
};
