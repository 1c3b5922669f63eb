import {
  isLyingFault,
  type DumpEntry,
  type FaultKind,
  type History,
  type HistoryEvent,
} from '../../model/history.ts';
import type { Verdict } from '../../model/verdict.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import { check } from '../../oracles/check.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import type { FaultSpec, TrialPlan } from '../../scenario/trial-plan.ts';
import type { ExplorationReport } from './explore-trial.ts';
import { isTransactional } from '../../scenario/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { engineCommand, quote, recoverAndDumpCommand, storeSize } from './engine-command.ts';
import { EngineSession } from './engine-session.ts';
import { allTaken, feedOps, finishWorkload, settled } from './feed.ts';
import { parseDump, readRawPages } from './recovered-state.ts';
import { TrialRig } from './trial-rig.ts';
import { generateWorkload } from './workload-gen.ts';
import { installUserEngine } from './guest-engine.ts';
import { markSchedule } from './schedule-marks.ts';
import { exploreTrial } from './explore-trial.ts';
import { PhaseClock, type TrialPhase } from './phase-clock.ts';

export { trialPhases, type TrialPhase } from './phase-clock.ts';

export type TrialResult = {
  plan: TrialPlan;
  /** log-writes trials: the crash states explored and how each fared. */
  exploration?: ExplorationReport;
  /** Files kept with the trial's results (e.g. the recorded log, to rebuild a failing state). */
  artifacts?: { name: string; data: Uint8Array }[];
  ops: WorkloadOp[];
  history: History;
  dump: DumpEntry[];
  verdict: Verdict;
  /** Whether the verdict is what the scenario expects (e.g. plain: lost-ack some). */
  expectation: { ok: boolean; reasons: string[] };
  recoverError?: string;
  fsck?: { clean: boolean; output: string };
  engineStderr: string;
  phaseMs: Record<TrialPhase, number>;
  log: string[];
};

export type RunTrialOptions = {
  runId: string;
  onPhase?: (phase: TrialPhase) => void;
  /** Per-step timeout for the engine (ms). */
  timeoutMs?: number;
  /** How long an engine may go without any event before the trial goes on without its answers. */
  quietMs?: number;
  /** Run this workload instead of the one the plan's seed generates (shrinking). */
  ops?: WorkloadOp[];
};

/**
 * One trial, Jepsen-style, on a real kernel: device + fs, the engine's write loop with the
 * fault armed at the planned point, the plug pulled, then recovery, dump and the checkers.
 */
export async function runTrial(
  target: Target,
  plan: TrialPlan,
  options: RunTrialOptions,
): Promise<TrialResult> {
  if (plan.fault.kind === 'log-writes') return exploreTrial(target, plan, options);
  // Every other kind is a dm-flakey fault.
  const fault = plan.fault as FaultSpec & { kind: FaultKind };
  const timeoutMs = options.timeoutMs ?? 120_000;
  const quietMs = options.quietMs ?? 3_000;
  const clock = new PhaseClock(options.onPhase);

  const ops = options.ops ?? generateWorkload(plan);
  const transactional = isTransactional(plan.engine);
  const pages = plan.workload.pages;
  if (plan.engine.kind === 'external') await installUserEngine(target, plan.engine);
  const rig = await TrialRig.create(target, plan, options.runId);
  const log = rig.log;
  try {
    const store = `${rig.mountPoint}/store.db`;
    await rig.preallocate(store, storeSize(plan.engine, pages));
    const scheduleLoadedAt = fault.schedule ? (await rig.arm(fault), Date.now()) : 0;

    clock.enter('workload');
    const arm = fault.arm;
    const pauseAt = arm && 'atMark' in arm ? [arm.atMark] : [];
    const session = await EngineSession.start(
      target,
      engineCommand(plan.engine, 'run', store, pages, pauseAt),
    );
    const stopSchedule = fault.schedule
      ? markSchedule(session, fault.kind, fault.schedule, scheduleLoadedAt)
      : undefined;
    // The engine may be mid-write while the table is reloaded (afterSeconds arms do not wait for
    // a quiet point): each edge is recorded on the conservative side for the fault's kind, so a
    // lying fault's window is widened (arm before, disarm after the reload), an erroring one's
    // narrowed.
    const reloadTable = async (
      action: 'arm' | 'disarm',
      reload: () => Promise<void>,
    ): Promise<void> => {
      const recordFirst = (action === 'arm') === isLyingFault(fault.kind);
      clock.enter('fault');
      if (recordFirst) session.nemesis(action, fault.kind);
      await reload();
      if (!recordFirst) session.nemesis(action, fault.kind);
      clock.enter('workload');
    };
    let armed = false;
    const armNow = async (): Promise<void> => {
      armed = true;
      await reloadTable('arm', () => rig.arm(fault));
    };

    const stopResumer =
      arm && 'atMark' in arm
        ? resumeAtMarks(session, arm.atMark, arm.occurrence, armNow)
        : undefined;
    const workloadStartedAt = Date.now();
    const timer =
      arm && 'afterSeconds' in arm
        ? setTimeout(
            () => void armNow().catch((e) => log.push(`arm failed: ${e}`)),
            arm.afterSeconds * 1000,
          )
        : undefined;

    // Split the workload at the quiet points where the fault is armed and disarmed.
    const cuts = [
      ...(arm && 'afterOp' in arm ? [{ at: Math.min(arm.afterOp, ops.length), act: armNow }] : []),
      ...(fault.disarm
        ? [
            {
              at: Math.min(fault.disarm.afterOp, ops.length),
              act: () => reloadTable('disarm', () => rig.disarm()),
            },
          ]
        : []),
    ].sort((a, b) => a.at - b.at);
    let fed = 0;
    for (const cut of cuts) {
      await feedOps(session, ops.slice(fed, cut.at), plan.workload.opsPerSecond);
      fed = cut.at;
      const answered = await session.settle(
        (h) => settled(h, ops.slice(0, fed), transactional),
        (h) => allTaken(h, ops.slice(0, fed)),
        quietMs,
        timeoutMs,
        `op ${fed}`,
      );
      if (!answered) log.push(`engine went quiet with ops up to ${fed} unanswered; acting anyway`);
      await cut.act();
    }
    await feedOps(session, ops.slice(fed), plan.workload.opsPerSecond);
    const exit = await finishWorkload(session, ops, { transactional, quietMs, timeoutMs, log });
    if (timer) clearTimeout(timer);
    stopSchedule?.();
    await stopResumer?.();
    // A pass would be a lie if the fault never happened.
    if (arm && !armed) throw new HarnessError(neverArmed(arm, Date.now() - workloadStartedAt));

    // Pull the plug: nothing the engine or the kernel does from here on reaches the disk.
    clock.enter('fault');
    await session.kill();
    session.nemesis('crash');
    await rig.pullPlug();

    clock.enter('recover');
    const fsck = await rig.remountAfterCrash();
    const combined = recoverAndDumpCommand(plan.engine, store, pages);
    const recover = await target.exec(
      combined ?? engineCommand(plan.engine, 'recover', store, pages),
      { check: false, timeoutMs },
    );
    const recoverError =
      recover.code === 0
        ? undefined
        : (recover.stderr.trim().split('\n')[0] ?? `exit ${recover.code}`);
    const dumpResult = combined
      ? {
          ...recover,
          code: recover.code === 0 ? 0 : 1,
          stdout: recover.code === 0 ? recover.stdout : '',
        }
      : await target.exec(engineCommand(plan.engine, 'dump', store, pages), {
          check: false,
          timeoutMs,
        });
    const dump = parseDump(dumpResult.stdout, pages);
    if (dumpResult.code !== 0 && !recoverError) {
      throw new HarnessError(
        `engine dump failed (exit ${dumpResult.code}): ${dumpResult.stderr.trim().split('\n')[0] ?? ''}`,
      );
    }
    const rawPages =
      plan.engine.kind === 'builtin' && plan.engine.mode !== 'cow'
        ? await readRawPages(target, store, plan.engine.pageSize, pages)
        : undefined;

    clock.enter('check');
    const history: History = { ops, events: session.history };
    const verdict = check(history, dump, { transactional, ...(rawPages ? { rawPages } : {}) });
    const expectation = meetsExpectation(verdict, plan.expect, { requireAnswers: true });
    if (exit.code !== 0 && exit.code !== null) log.push(`engine run exited ${exit.code}`);
    if (session.badLines.length > 0)
      log.push(
        `engine printed ${session.badLines.length} non-protocol lines, e.g. ${quote(session.badLines[0]!)}`,
      );
    const phaseMs = clock.stop();
    return {
      plan,
      ops,
      history,
      dump,
      verdict,
      expectation,
      ...(recoverError ? { recoverError } : {}),
      ...(fsck ? { fsck } : {}),
      engineStderr: exit.stderr,
      phaseMs,
      log,
    };
  } finally {
    await rig.destroy();
  }
}

/** Why an arm point was never reached, naming the field to change. */
function neverArmed(arm: NonNullable<TrialPlan['fault']['arm']>, elapsedMs: number): string {
  if ('atMark' in arm)
    return `fault.arm.atMark: the engine never paused at mark '${arm.atMark}' (occurrence ${arm.occurrence}), so the fault was never armed; check the mark's name against the marks the engine emits`;
  if ('afterSeconds' in arm)
    return `fault.arm.afterSeconds: the workload ended after ${(elapsedMs / 1000).toFixed(1)} s, before the fault was due at ${arm.afterSeconds} s, so it was never armed; lower afterSeconds or pace the workload (workload.opsPerSecond)`;
  return `fault.arm: the fault was never armed (op ${arm.afterOp} not reached)`;
}

/**
 * Resumes an engine paused at `mark` each time; arms the fault before resuming the
 * `occurrence`-th pause (e.g. between the data and meta writes of the 3rd CoW commit).
 * Returns a stop function.
 */
function resumeAtMarks(
  session: EngineSession,
  mark: string,
  occurrence: number,
  arm: () => Promise<void>,
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
      if (seen === occurrence) await arm();
      await session.send({ op: 'resume' });
    }
  })();
  return async () => {
    stopped = true;
    await loop.catch(() => undefined);
  };
}
