import type { FaultKind } from '../../model/history.ts';
import { parseExploreMode } from '../../logwrites/states.ts';
import type { FaultSpec, TrialPlan } from '../../model/trial-plan.ts';
import { isTransactional } from '../../model/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import type { CrashChecker, TrialContext } from './crash-checker.ts';
import { engineCommand, quote } from './engine-command.ts';
import { EngineSession } from './engine-session.ts';
import { ExplorationChecker } from './exploration-check.ts';
import { feedOps, finishWorkload } from './feed.ts';
import { FlakeyNemesis } from './flakey-nemesis.ts';
import { LogWritesNemesis } from './log-writes-nemesis.ts';
import type { Nemesis } from './nemesis.ts';
import { PhaseClock } from './phase-clock.ts';
import { RecoveryChecker } from './recovery-check.ts';
import { tracedCommand } from './syscall-stop.ts';
import { TrialRig } from './trial-rig.ts';
import type { RunTrialOptions } from './trial-options.ts';
import type { TrialResult } from '../../model/trial-result.ts';
import type { WorkloadOp } from '../../model/workload.ts';

/** How long one step of a trial may take (the engine's, a command's), unless told. */
export const defaultStepTimeoutMs = 120_000;

/** One kind of trial: the device it needs, its nemesis and its checker. */
type TrialKind = {
  rig: TrialRig;
  nemesis: (store: string) => Nemesis;
  checker: (store: string) => CrashChecker;
};

/**
 * One trial, step by step from this process: device + fs, the engine's write loop under
 * powercut's tracer with the nemesis acting at its points, the plug pulled, then the checker:
 * recovery, dump and the oracles (for one crash, or for every crash state of a recording). A
 * user's engine must be installed already (runTrial does it). Runs on the host, or inside the
 * target in the trial agent (src/harness/agent/).
 */
export async function runTrialSteps(
  target: Target,
  plan: TrialPlan,
  options: RunTrialOptions & { ops: WorkloadOp[] },
): Promise<TrialResult> {
  const c: TrialContext = {
    target,
    plan,
    ops: options.ops,
    transactional: isTransactional(plan.engine),
    pages: plan.workload.pages,
    clock: new PhaseClock(options.onPhase),
    timeoutMs: options.timeoutMs ?? defaultStepTimeoutMs,
    quietMs: options.quietMs ?? 3_000,
  };
  const { ops, pages, clock, transactional, timeoutMs, quietMs } = c;
  const kind = await trialKind(c);
  const { rig } = kind;
  // The rig's log is the trial's log: what the device, the nemesis and the checker noticed.
  const log = rig.log;
  return rig.use(async () => {
    const store = rig.store;
    // screen: store reads the store file's blocks out of the recording, misdirect:N puts
    // writes at other blocks of it, and tear:N tears only writes to it: where they are is
    // asked now, while the filesystem is mounted (the answer is kept for after the crash).
    if (plan.fault.kind === 'log-writes') {
      if (plan.fault.screen === 'store' || plan.fault.explore?.startsWith('misdirect:'))
        await rig.requireStoreExtents();
      // A directory store has no one answer: tear:N then tears every write (logged).
      else if (plan.fault.explore?.startsWith('tear:')) await rig.storeExtents();
    }
    const nemesis = kind.nemesis(store);
    await nemesis.setup();

    clock.enter('workload');
    // Every engine runs under powercut's tracer, which stops it at the nemesis's points.
    const session = await EngineSession.start(
      target,
      tracedCommand(engineCommand(plan.engine, 'run', store, pages, [...nemesis.pauseAt]), {
        pidFile: rig.faultDevice.names.pidFile,
        store,
        ...nemesis.tracing,
      }),
      { onStop: (stop) => nemesis.onStop(stop) },
    );
    nemesis.start(session);

    // Split the workload at the cuts (afterOp): ops past a cut are fed once its fault acted.
    let fed = 0;
    for (const cut of nemesis.cuts) {
      await feedOps(session, ops.slice(fed, cut.at), plan.workload.opsPerSecond);
      fed = cut.at;
      await nemesis.waitCut(cut, quietMs, timeoutMs);
    }
    await feedOps(session, ops.slice(fed), plan.workload.opsPerSecond);
    const exit = await finishWorkload(session, ops, {
      transactional,
      quietMs,
      timeoutMs,
      log,
    });
    // In this order: no timer may ask for a stop once the last stop was handled, and no arm may
    // still be in flight when the plug is pulled (reloads are serialised too: fault-device.ts).
    nemesis.stop();
    await session.stopsHandled();
    // A pass would be a lie if the fault never happened (or failed to load).
    await nemesis.finish(session);

    // Pull the plug: nothing the engine or the kernel does from here on reaches the disk.
    clock.enter('fault');
    await session.kill();
    session.nemesis('crash');
    // A dm-flakey trial's checker remounts first: in the plug pull's own round trip.
    await rig.pullPlug({ thenRemount: plan.fault.kind !== 'log-writes' });

    clock.enter('recover');
    const history = { ops, events: session.history };
    const { recoveryStderr, ...judged } = await kind.checker(store).judge(history);

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
      ...judged,
      engineStderr: [exit.stderr, ...recoveryStderr].join('\n'),
      phaseMs,
      log,
    };
  });
}

/** The device, nemesis and checker of the plan's fault: dm-flakey, or a log-writes recording. */
async function trialKind(c: TrialContext): Promise<TrialKind> {
  const { target, plan } = c;
  if (plan.fault.kind === 'log-writes') {
    const mode = parseExploreMode(plan.fault.explore ?? 'flush');
    if (!mode) throw new HarnessError(`fault.explore: ${plan.fault.explore} is not a mode`);
    const rig = await TrialRig.createRecording(target, plan);
    return {
      rig,
      nemesis: () => new LogWritesNemesis(rig.faultDevice, rig.log),
      checker: (store) => new ExplorationChecker(c, rig, store, mode),
    };
  }
  // Every other kind is a dm-flakey fault.
  const fault = plan.fault as FaultSpec & { kind: FaultKind };
  const rig = await TrialRig.create(target, plan);
  return {
    rig,
    nemesis: () =>
      new FlakeyNemesis({
        rig,
        fault,
        ops: c.ops,
        transactional: c.transactional,
        clock: c.clock,
        log: rig.log,
      }),
    checker: (store) => new RecoveryChecker(c, rig, store),
  };
}
