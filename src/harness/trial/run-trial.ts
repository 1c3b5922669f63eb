import { engineTraits } from '../../engine/engine.ts';
import type { DumpEntry, FaultKind, History } from '../../model/history.ts';
import type { FsckOutcome } from '../../oracles/fs-corrupt.ts';
import { MountFailed } from '../fs/filesystem.ts';
import { check } from '../../oracles/check.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import type { FaultSpec, TrialPlan } from '../../scenario/trial-plan.ts';
import { isTransactional } from '../../scenario/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { engineCommand, quote, recoverAndDumpCommand } from './engine-command.ts';
import { EngineSession } from './engine-session.ts';
import { feedOps, finishWorkload } from './feed.ts';
import { FlakeyNemesis } from './nemesis.ts';
import { tracedCommand } from './syscall-stop.ts';
import { parseDump, readRawPages } from './recovered-state.ts';
import { TrialRig } from './trial-rig.ts';
import { generateWorkload } from './workload-gen.ts';
import { installUserEngine } from './guest-engine.ts';
import { exploreTrial } from './explore-trial.ts';
import type { RunTrialOptions } from './trial-options.ts';

export type { RunTrialOptions } from './trial-options.ts';
import { PhaseClock } from './phase-clock.ts';
import type { TrialResult } from '../../model/trial-result.ts';

export { trialPhases, type TrialPhase, type TrialResult } from '../../model/trial-result.ts';

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
  const rig = await TrialRig.create(target, plan);
  const log = rig.log;
  return rig.use(async () => {
    const store = await rig.prepareStore(plan.engine, pages);
    const nemesis = new FlakeyNemesis({ rig, fault, ops, transactional, clock, log });
    await nemesis.setup();

    clock.enter('workload');
    const arm = fault.arm;
    const pauseAt = arm && 'atMark' in arm ? [arm.atMark] : [];
    // Every engine runs under powercut's tracer, which stops it at the nemesis's points.
    const session = await EngineSession.start(
      target,
      tracedCommand(engineCommand(plan.engine, 'run', store, pages, pauseAt), {
        pidFile: rig.faultDevice.names.pidFile,
        store,
        stops: nemesis.stopPoints,
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
    const exit = await finishWorkload(session, ops, { transactional, quietMs, timeoutMs, log });
    // In this order: no timer may ask for a stop once the last stop was handled, and no arm may
    // still be in flight when the plug is pulled (reloads are serialised too: fault-device.ts).
    nemesis.stop();
    await session.stopsHandled();
    // A pass would be a lie if the fault never happened (or failed to load).
    await nemesis.finish();

    // Pull the plug: nothing the engine or the kernel does from here on reaches the disk.
    clock.enter('fault');
    await session.kill();
    session.nemesis('crash');
    await rig.pullPlug();

    clock.enter('recover');
    const recovered = await recoverAfterCrash(target, rig, plan, store, pages, timeoutMs);
    const { recoverError, dump, rawPages, fsck } = recovered;

    clock.enter('check');
    const history: History = { ops, events: session.history };
    const verdict = check(history, dump, {
      transactional,
      ...(rawPages ? { rawPages } : {}),
      ...(recoverError !== undefined ? { recoverError } : {}),
      fsck,
    });
    const judged = meetsExpectation(verdict, plan.expect, { requireAnswers: true });
    // A filesystem that did not come back judged nothing of the engine: never a pass.
    const expectation = recovered.mountFailed
      ? {
          ok: false,
          reasons: [
            ...judged.reasons,
            `the ${plan.filesystem.type} filesystem did not mount after the crash: nothing of the engine could be judged`,
          ],
        }
      : judged;
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
      fsck,
      engineStderr: [
        exit.stderr,
        ...(plan.engine.kind === 'external'
          ? [`--- recover ---\n${recovered.recoverStderr}`, `--- dump ---\n${recovered.dumpStderr}`]
          : recovered.recoverStderr.trim()
            ? [`--- recover ---\n${recovered.recoverStderr}`]
            : []),
      ].join('\n'),
      phaseMs,
      log,
    };
  });
}

type Recovered = {
  recoverError?: string;
  /** The filesystem did not mount after the crash (the engine's recover never ran). */
  mountFailed?: boolean;
  dump: DumpEntry[];
  rawPages?: Awaited<ReturnType<typeof readRawPages>>;
  fsck: FsckOutcome;
  recoverStderr: string;
  dumpStderr: string;
};

/**
 * After the plug was pulled: mount again (the kernel's own recovery), the engine's recover and
 * dump, the read-only filesystem check. A filesystem that no longer mounts is an outcome, not a
 * harness error: the store is unusable (recover failed) and the filesystem is corrupt, and the
 * checkers decide whom that blames (a device that corrupted writes is not the engine's fault).
 */
export async function recoverAfterCrash(
  target: Target,
  rig: TrialRig,
  plan: TrialPlan,
  store: string,
  pages: number,
  timeoutMs: number,
): Promise<Recovered> {
  try {
    await rig.remountAfterCrash();
  } catch (error) {
    if (!(error instanceof MountFailed)) throw error;
    rig.log.push(`mount after the crash failed: ${error.message}`);
    const fsck = await rig.checkUnmountedFilesystem();
    return {
      recoverError: `the ${plan.filesystem.type} filesystem did not mount after the crash (${error.message})`,
      mountFailed: true,
      dump: [],
      fsck: { clean: false, output: `mount failed: ${error.message}\n${fsck.output}` },
      recoverStderr: '',
      dumpStderr: '',
    };
  }
  const combined = recoverAndDumpCommand(plan.engine, store, pages);
  const recover = await target.exec(
    combined ?? engineCommand(plan.engine, 'recover', store, pages),
    { check: false, timeoutMs },
  );
  const recoverError =
    recover.code === 0
      ? undefined
      : recover.stderr.trim().split('\n')[0] || `exit ${recover.code ?? recover.signal}`;
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
    plan.engine.kind === 'builtin' && engineTraits[plan.engine.mode].directLayout
      ? await readRawPages(target, store, plan.engine.pageSize, pages)
      : undefined;
  const fsck = await rig.checkFilesystem();
  return {
    ...(recoverError !== undefined ? { recoverError } : {}),
    dump,
    ...(rawPages ? { rawPages } : {}),
    fsck,
    recoverStderr: recover.stderr,
    dumpStderr: combined ? '' : dumpResult.stderr,
  };
}
