import {
  isLyingFault,
  type FaultKind,
  type HistoryEvent,
  type StopEvent,
} from '../../model/history.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import type { FaultSpec } from '../../model/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { EngineSession } from './engine-session.ts';
import { allTaken, settleSets } from './feed.ts';
import type { PhaseClock } from './phase-clock.ts';
import { markSchedule } from './schedule-marks.ts';
import type { StopPoint } from './syscall-stop.ts';
import type { TrialRig } from './trial-rig.ts';
import type { Cut, Nemesis } from './nemesis.ts';

type FaultPoint = NonNullable<FaultSpec['arm']> | NonNullable<FaultSpec['disarm']>;
type Action = 'arm' | 'disarm';

/**
 * The nemesis of a dm-flakey trial. Every arm and disarm point becomes a
 * stop point of powercut's tracer: the engine, whatever it is written in, is stopped there
 * (every thread) before it does any further I/O, the table is reloaded, and then it resumes.
 * No point depends on the engine's cooperation; `atMark` (the pause-at extension) is the one
 * exception, for marks only an engine knows.
 */
export class FlakeyNemesis implements Nemesis {
  private readonly stopPoints: StopPoint[] = [];
  readonly tracing = { stops: this.stopPoints };
  readonly pauseAt: string[] = [];
  readonly cuts: Cut[] = [];
  private readonly actions = new Map<string, Action>();
  private readonly done = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private readonly errors: string[] = [];
  private armed = false;
  private session: EngineSession | undefined;
  private stopTimers: (() => void)[] = [];
  private scheduleLoadedAt = 0;
  private readonly workloadStartedAt = Date.now();

  constructor(
    private readonly o: {
      rig: TrialRig;
      fault: FaultSpec & { kind: FaultKind };
      ops: readonly WorkloadOp[];
      transactional: boolean;
      clock: PhaseClock;
      log: string[];
    },
  ) {
    const { fault } = o;
    if (fault.arm) this.plan('arm', fault.arm);
    if (fault.disarm) this.plan('disarm', fault.disarm);
    this.cuts.sort((a, b) => a.at - b.at);
    if (fault.arm && 'atMark' in fault.arm) this.pauseAt.push(fault.arm.atMark);
  }

  /** Registers one fault point: a tracer stop (most), a feed cut (afterOp), or neither. */
  private plan(action: Action, point: FaultPoint): void {
    const label = action;
    this.actions.set(label, action);
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.done.set(label, { promise, resolve });
    if ('afterOp' in point) {
      const at = Math.min(point.afterOp, this.o.ops.length);
      const sets = settleSets(this.o.ops.slice(0, at), this.o.transactional);
      if (sets.answers.length + sets.invoked.length > 0) {
        this.stopPoints.push({ label, kind: 'answers', ...sets });
        this.cuts.push({ at, label });
      }
      // else: nothing to wait for; setup() acts before the engine starts.
    } else if ('at' in point) {
      this.stopPoints.push(
        point.at === 'ack'
          ? { label, kind: 'acks', n: point.occurrence }
          : { label, kind: 'syscall', event: point.at, n: point.occurrence, when: point.when },
      );
    }
  }

  /** Before the engine starts: a fault due at op 0, or dm-flakey's own time schedule. */
  async setup(): Promise<void> {
    const { fault } = this.o;
    if (fault.schedule) {
      await this.o.rig.arm(fault);
      this.scheduleLoadedAt = Date.now();
      this.armed = true;
    }
    for (const [label, action] of this.actions) {
      const point = action === 'arm' ? fault.arm : fault.disarm;
      if (point && 'afterOp' in point && !this.stopPoints.some((p) => p.label === label)) {
        await this.act(label);
      }
    }
  }

  /** The engine runs: timers for afterSeconds and the schedule, the mark resumer for atMark. */
  start(session: EngineSession): void {
    this.session = session;
    const { fault } = this.o;
    if (fault.schedule)
      this.stopTimers.push(
        markSchedule(session, fault.kind, fault.schedule, this.scheduleLoadedAt),
      );
    const arm = fault.arm;
    if (arm && 'afterSeconds' in arm) {
      // The tracer stops the engine wherever it is; the table is reloaded while it is stopped.
      const timer = setTimeout(() => session.control('stop', 'arm'), arm.afterSeconds * 1000);
      this.stopTimers.push(() => clearTimeout(timer));
    }
    if (arm && 'atMark' in arm) {
      const stop = resumeAtMarks(session, arm.atMark, arm.occurrence, () => this.act('arm'));
      this.stopTimers.push(() => void stop());
    }
  }

  /** The tracer stopped the engine at one of our points: act; the session resumes it after. */
  async onStop(stop: StopEvent): Promise<void> {
    if (!stop.exact)
      this.o.log.push(
        `stop ${stop.label} came after its event (the engine wrote its stdout by a syscall the tracer does not trap)`,
      );
    await this.act(stop.label);
  }

  /**
   * The feed reached a cut: waits until its stop was handled. An engine that went quiet with an
   * op of the cut unanswered (a buggy engine sitting on an answer) is stopped where it is, and
   * that is logged.
   */
  async waitCut(cut: Cut, quietMs: number, timeoutMs: number): Promise<void> {
    const session = this.session!;
    const entry = this.done.get(cut.label)!;
    const stopped = (h: readonly HistoryEvent[]): boolean =>
      h.some((e) => e.type === 'stop' && e.label === cut.label);
    const fed = this.o.ops.slice(0, cut.at);
    const seen = await session.settle(
      stopped,
      (h) => allTaken(h, fed),
      quietMs,
      timeoutMs,
      `op ${cut.at}`,
    );
    if (!seen) {
      this.o.log.push(
        `engine went quiet with ops up to ${cut.at} unanswered; stopped it there for the ${cut.label}`,
      );
      session.control('stop', cut.label);
    }
    await entry.promise;
  }

  /** Arms or disarms; records the edge on the conservative side for the fault's kind. */
  private async act(label: string): Promise<void> {
    const action = this.actions.get(label);
    const entry = this.done.get(label);
    if (!action || !entry) {
      this.errors.push(`the engine was stopped at an unknown point ${label}`);
      return;
    }
    const { rig, fault, clock } = this.o;
    const session = this.session;
    // A lying fault's window is recorded widened, an erroring one's narrowed (isLyingFault);
    // with the engine stopped both orders are the same.
    const recordFirst = (action === 'arm') === isLyingFault(fault.kind);
    clock.enter('fault');
    try {
      if (recordFirst) session?.nemesis(action, fault.kind);
      await (action === 'arm' ? rig.arm(fault) : rig.disarm());
      if (!recordFirst) session?.nemesis(action, fault.kind);
      if (action === 'arm') this.armed = true;
    } catch (error) {
      this.errors.push(`${action} failed: ${(error as Error).message}`);
    } finally {
      clock.enter('workload');
      entry.resolve();
    }
  }

  /** After the workload: no timer or mark resumer may start anything new. */
  stop(): void {
    for (const stop of this.stopTimers) stop();
    this.stopTimers = [];
  }

  /**
   * After the workload and every stop handled: a fault that failed or never happened fails the
   * trial (a pass would be a lie).
   */
  async finish(): Promise<void> {
    this.stop();
    if (this.errors.length > 0) throw new HarnessError(this.errors.join('; '));
    const arm = this.o.fault.arm;
    if (arm && !this.armed)
      throw new HarnessError(neverArmed(arm, Date.now() - this.workloadStartedAt));
  }
}

/** Why an arm point was never reached, naming the field to change. */
function neverArmed(arm: NonNullable<FaultSpec['arm']>, elapsedMs: number): string {
  if ('atMark' in arm)
    return `fault.arm.atMark: the engine never paused at mark '${arm.atMark}' (occurrence ${arm.occurrence}), so the fault was never armed; check the mark's name against the marks the engine emits`;
  if ('afterSeconds' in arm)
    return `fault.arm.afterSeconds: the workload ended after ${(elapsedMs / 1000).toFixed(1)} s, before the fault was due at ${arm.afterSeconds} s, so it was never armed; lower afterSeconds or pace the workload (workload.opsPerSecond)`;
  if ('at' in arm)
    return `fault.arm.at: the engine made fewer than ${arm.occurrence} ${arm.at} event(s), so the fault was never armed`;
  return `fault.arm: the fault was never armed (op ${arm.afterOp} not reached)`;
}

/**
 * Resumes an engine paused at `mark` each time; acts before resuming the `occurrence`-th pause
 * (e.g. between the data and meta writes of the 3rd CoW commit). Returns a stop function.
 */
function resumeAtMarks(
  session: EngineSession,
  mark: string,
  occurrence: number,
  act: () => Promise<void>,
): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    for (let seen = 1; !stopped; seen++) {
      const reached = (h: readonly HistoryEvent[]): boolean =>
        h.filter((e) => e.type === 'mark' && e.name === mark && e.paused).length >= seen;
      try {
        await session.waitUntil((h) => stopped || reached(h), 24 * 3600_000, `mark ${mark}`);
      } catch {
        return; // the engine ended
      }
      if (stopped) return;
      if (seen === occurrence) await act();
      await session.send({ op: 'resume' });
    }
  })();
  return async () => {
    stopped = true;
    await loop.catch(() => undefined);
  };
}
