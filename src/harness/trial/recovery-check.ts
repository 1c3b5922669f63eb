import { engineTraits } from '../../engine/engine.ts';
import type { DumpEntry, History } from '../../model/history.ts';
import type { FsckOutcome } from '../../oracles/fs-corrupt.ts';
import { check } from '../../oracles/check.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import { MountFailed } from '../fs/filesystem.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import type { CrashChecker, Judgement, TrialContext } from './crash-checker.ts';
import { engineCommand, recoverAndDumpArgv } from './engine-command.ts';
import { engineRequests } from './engine-server.ts';
import { parseDump, parseRawPages, rawPagesScript } from './recovered-state.ts';
import type { TrialRig } from './trial-rig.ts';

/** The checker of a dm-flakey trial: the one crash that happened, recovered and checked. */
export class RecoveryChecker implements CrashChecker {
  constructor(
    private readonly c: TrialContext,
    private readonly rig: TrialRig,
    private readonly store: string,
  ) {}

  async judge(history: History): Promise<Judgement> {
    const { target, plan, pages, timeoutMs, clock, transactional } = this.c;
    const recovered = await recoverAfterCrash(target, this.rig, plan, this.store, pages, timeoutMs);
    const { recoverError, dump, rawPages, fsck } = recovered;

    clock.enter('check');
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
    return {
      dump,
      verdict,
      expectation,
      ...(recoverError ? { recoverError } : {}),
      fsck,
      recoveryStderr:
        plan.engine.kind === 'external'
          ? [`--- recover ---\n${recovered.recoverStderr}`, `--- dump ---\n${recovered.dumpStderr}`]
          : recovered.recoverStderr.trim()
            ? [`--- recover ---\n${recovered.recoverStderr}`]
            : [],
    };
  }
}

type Recovered = {
  recoverError?: string;
  /** The filesystem did not mount after the crash (the engine's recover never ran). */
  mountFailed?: boolean;
  dump: DumpEntry[];
  rawPages?: ReturnType<typeof parseRawPages>;
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
  const combined = recoverAndDumpArgv(plan.engine, store, pages);
  const recover = combined
    ? await (await engineRequests(target)).run(combined, timeoutMs)
    : await target.exec(engineCommand(plan.engine, 'recover', store, pages), {
        check: false,
        timeoutMs,
        ownProcess: true,
      });
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
        ownProcess: true,
      });
  const dump = parseDump(dumpResult.stdout, pages);
  if (dumpResult.code !== 0 && !recoverError) {
    throw new HarnessError(
      `engine dump failed (exit ${dumpResult.code}): ${dumpResult.stderr.trim().split('\n')[0] ?? ''}`,
    );
  }
  // The raw slots are read in the check's round trip, before its unmount.
  const { pageSize } = plan.engine;
  const readsRaw = plan.engine.kind === 'builtin' && engineTraits[plan.engine.mode].directLayout;
  // The trial's last step on the device: its teardown goes in the same round trip.
  const { read, ...fsck } = await rig.checkFilesystem(
    readsRaw ? rawPagesScript(store, pageSize, pages) : undefined,
    { last: true },
  );
  const rawPages = readsRaw ? parseRawPages(read ?? '', store, pageSize, pages) : undefined;
  return {
    ...(recoverError !== undefined ? { recoverError } : {}),
    dump,
    ...(rawPages ? { rawPages } : {}),
    fsck,
    recoverStderr: recover.stderr,
    dumpStderr: combined ? '' : dumpResult.stderr,
  };
}
