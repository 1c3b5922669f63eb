import { isLyingFault, type FaultKind } from '../../model/history.ts';
import type { EngineSession } from './engine-session.ts';

/** How far a recorded down-interval edge is moved from the computed one (see isLyingFault). */
export const scheduleMarginMs = 250;

/**
 * Where the k-th down interval's edges are recorded (ms, same clock as `loadedAtMs`): moved out
 * by the margin for a lying fault, in for an erroring one. No arm when narrowed to nothing; no
 * disarm when widened into the next interval (it stays armed).
 */
export function recordedDownWindow(
  fault: FaultKind,
  schedule: { up: number; down: number },
  loadedAtMs: number,
  k: number,
): { armAtMs?: number; disarmAtMs?: number; nextPlanAtMs: number } {
  const period = (schedule.up + schedule.down) * 1000;
  const margin = isLyingFault(fault) ? scheduleMarginMs : -scheduleMarginMs;
  const downStart = loadedAtMs + schedule.up * 1000 + k * period - margin;
  const downEnd = loadedAtMs + (k + 1) * period + margin;
  const nextDownStart = downStart + period;
  const nextPlanAtMs = nextDownStart - 10;
  if (downEnd <= downStart) return { nextPlanAtMs };
  return {
    armAtMs: downStart,
    ...(nextDownStart > downEnd ? { disarmAtMs: downEnd } : {}),
    nextPlanAtMs,
  };
}

/**
 * dm-flakey's time schedule (up U s, down D s, from table load) runs inside the kernel, so the
 * history gets no event from it. This inserts `arm`/`disarm` nemesis events at the computed
 * transitions moved by a margin: widened for a lying fault (an ack near a transition counts as
 * made while the device may have been lying, so the engine is never blamed for the device),
 * narrowed for an erroring one (an ack near a transition is not taken for an ignored EIO).
 * Returns a function that stops the timers.
 */
export function markSchedule(
  session: EngineSession,
  fault: FaultKind,
  schedule: { up: number; down: number },
  loadedAtMs: number,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const plan = (k: number): void => {
    if (stopped) return;
    const w = recordedDownWindow(fault, schedule, loadedAtMs, k);
    if (w.armAtMs !== undefined) {
      const at = w.armAtMs;
      timers.push(setTimeout(() => session.nemesis('arm', fault), Math.max(0, at - Date.now())));
    }
    if (w.disarmAtMs !== undefined) {
      const at = w.disarmAtMs;
      timers.push(setTimeout(() => session.nemesis('disarm', fault), Math.max(0, at - Date.now())));
    }
    timers.push(setTimeout(() => plan(k + 1), Math.max(0, w.nextPlanAtMs - Date.now())));
  };
  plan(0);
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
  };
}
