import type { FaultKind } from '../../model/history.ts';
import type { EngineSession } from './engine-session.ts';

/** How much earlier/later than computed the harness assumes a down interval starts/ends. */
export const scheduleMarginMs = 250;

/**
 * dm-flakey's time schedule (up U s, down D s, from table load) runs inside the kernel, so the
 * history gets no event from it. This inserts `arm`/`disarm` nemesis events at the computed
 * transitions, widened by a margin on both sides: an ack near a transition counts as made
 * while the device may have been lying, so the engine is never blamed for the device.
 * Returns a function that stops the timers.
 */
export function markSchedule(
  session: EngineSession,
  fault: FaultKind,
  schedule: { up: number; down: number },
  loadedAtMs: number,
): () => void {
  const timers: NodeJS.Timeout[] = [];
  const period = (schedule.up + schedule.down) * 1000;
  let stopped = false;
  const plan = (k: number): void => {
    if (stopped) return;
    const downStart = loadedAtMs + schedule.up * 1000 + k * period - scheduleMarginMs;
    const downEnd = loadedAtMs + (k + 1) * period + scheduleMarginMs;
    const nextDownStart = downStart + period;
    timers.push(
      setTimeout(() => session.nemesis('arm', fault), Math.max(0, downStart - Date.now())),
    );
    // When up intervals are shorter than twice the margin, stay armed: never disarm.
    if (nextDownStart > downEnd) {
      timers.push(
        setTimeout(() => session.nemesis('disarm', fault), Math.max(0, downEnd - Date.now())),
      );
    }
    timers.push(setTimeout(() => plan(k + 1), Math.max(0, nextDownStart - Date.now() - 10)));
  };
  plan(0);
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
  };
}
