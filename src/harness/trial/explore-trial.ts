import type { Verdict } from '../../model/verdict.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import { formatExploreMode, parseExploreMode } from '../../logwrites/states.ts';
import type { TrialPlan } from '../../scenario/trial-plan.ts';
import { isTransactional } from '../../scenario/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { engineCommand } from './engine-command.ts';
import { EngineSession } from './engine-session.ts';
import { feedOps, finishWorkload } from './feed.ts';
import { installUserEngine } from './guest-engine.ts';
import type { RunTrialOptions } from './trial-options.ts';
import type { ExplorationReport, TrialResult } from '../../model/trial-result.ts';

export type { ExplorationReport } from '../../model/trial-result.ts';
import { PhaseClock } from './phase-clock.ts';
import { tracedCommand } from './syscall-stop.ts';
import { TrialRig } from './trial-rig.ts';
import { checkRecordedStates, downloadLog, startMark } from './crash-states.ts';
import { generateWorkload } from './workload-gen.ts';

/** Name of the artifact holding the recorded log (gzip), written beside a failing trial's results. */
export const logArtifact = 'log-writes.img.gz';

/**
 * A log-writes trial: the engine's run is recorded block by block with dm-log-writes (mkfs
 * included, an `ack:<id>` mark after every acknowledgement), the plug is pulled, and then every
 * chosen crash state of the recording is rebuilt in the target, fsck'd, mounted, recovered,
 * dumped and checked by the same oracles, without a reboot.
 */
export async function exploreTrial(
  target: Target,
  plan: TrialPlan,
  options: RunTrialOptions,
): Promise<TrialResult> {
  const mode = parseExploreMode(plan.fault.explore ?? 'flush');
  if (!mode) throw new HarnessError(`fault.explore: ${plan.fault.explore} is not a mode`);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const quietMs = options.quietMs ?? 3_000;
  const clock = new PhaseClock(options.onPhase);

  const ops = options.ops ?? generateWorkload(plan);
  const transactional = isTransactional(plan.engine);
  const pages = plan.workload.pages;
  if (plan.engine.kind === 'external') await installUserEngine(target, plan.engine);
  const rig = await TrialRig.createRecording(target, plan);
  const log = rig.log;
  const device = rig.faultDevice;
  return rig.use(async () => {
    const store = await rig.prepareStore(plan.engine, pages);
    const storeName = store.slice(rig.mountPoint.length + 1);
    await device.mark(startMark);
    log.push(`recording with dm-log-writes to ${device.logLoopDevice}`);

    clock.enter('workload');
    // Any engine: the tracer stops it at the exit of each ack's write to stdout and puts
    // `ack:<id>` into the log right there, before the engine can write anything else.
    const session = await EngineSession.start(
      target,
      tracedCommand(engineCommand(plan.engine, 'run', store, pages), {
        pidFile: device.names.pidFile,
        store,
        markAcks: device.names.table,
      }),
    );
    await feedOps(session, ops, plan.workload.opsPerSecond);
    const exit = await finishWorkload(session, ops, { transactional, quietMs, timeoutMs, log });
    const inexact = session.notes.filter((n) => n.note === 'inexact-mark');
    if (inexact.length > 0)
      log.push(
        `${inexact.length} ack mark(s) came later than their ack (the engine wrote its stdout by a syscall the tracer does not trap): states near them are checked less strictly`,
      );

    clock.enter('fault');
    await session.kill();
    session.nemesis('crash');
    // Loading the drop_writes table tears the log-writes target down: it appends the writes
    // still unflushed and its end mark; nothing after that reaches the device.
    await rig.pullPlug();

    clock.enter('recover');
    const started = Date.now();
    const explored = await checkRecordedStates(target, plan, {
      log: device.names.logFile,
      data: device.names.backingFile,
      storeName,
      transactional,
      ops,
      history: session.history,
      mode,
      table: device.names.stateTable,
      mountPoint: device.names.stateMountPoint,
      workDir: device.names.backingDir,
      timeoutMs,
    });
    const exploreMs = Date.now() - started;

    clock.enter('check');
    const failing = explored.states.filter((s) => !s.valid);
    const anomalies = failing.flatMap((s) =>
      s.anomalies.map((a) => ({ ...a, message: `state ${s.id} (${s.boundary}): ${a.message}` })),
    );
    const last = explored.verdicts.at(-1);
    const verdict: Verdict = {
      valid: failing.length === 0 && explored.errors.length === 0,
      anomalies,
      stats: last?.verdict.stats ?? {
        ops: ops.length,
        acked: 0,
        failed: 0,
        pages,
        recoveredValues: 0,
        checksumErrors: 0,
        ackedWhileFaulty: 0,
      },
    };
    if (!explored.replayMatchesDevice) {
      throw new HarnessError(
        'the replayed log does not match the recorded device: the recording is not trustworthy',
      );
    }
    if (explored.errors.length > 0) {
      throw new HarnessError(
        `${explored.errors.length} crash state(s) could not be checked, e.g. state ${explored.errors[0]!.id}: ${explored.errors[0]!.message}`,
      );
    }
    const firstBad = explored.verdicts.find((v) => !v.verdict.valid) ?? last;
    const reproduce = (id: string): string =>
      `powercut state-image ${logArtifact} --state ${id} --size ${plan.device.sizeMb * 1024 * 1024} --out state-${id}.img`;
    const exploration: ExplorationReport = {
      mode: formatExploreMode(mode),
      logEntries: explored.entries.length,
      startEntry: explored.startEntry,
      sectorSize: explored.sectorSize,
      checked: explored.states.length,
      byBoundary: countBy(explored.states.map((s) => s.boundary)),
      ...(explored.sampledFrom ? { sampledFrom: explored.sampledFrom } : {}),
      statesPerSecond: explored.states.length / Math.max(0.001, exploreMs / 1000),
      exploreMs,
      replayMatchesDevice: explored.replayMatchesDevice,
      failing: failing.map((s) => ({ ...s, reproduce: reproduce(s.id) })),
      errors: explored.errors,
      states: explored.states,
    };
    const artifacts =
      failing.length > 0
        ? [
            {
              name: logArtifact,
              data: await downloadLog(target, device.names.logFile, explored.logBytes),
            },
          ]
        : [];
    log.push(
      `explored ${exploration.checked} crash state(s) (${exploration.mode}) of ${exploration.logEntries} log entries in ${(exploreMs / 1000).toFixed(1)} s: ${failing.length} failing`,
    );
    if (exit.code !== 0 && exit.code !== null) log.push(`engine run exited ${exit.code}`);
    const phaseMs = clock.stop();
    return {
      plan,
      exploration,
      ...(artifacts.length > 0 ? { artifacts } : {}),
      ops,
      history: { ops, events: session.history },
      dump: firstBad?.dump ?? [],
      verdict,
      expectation: meetsExpectation(verdict, plan.expect, { requireAnswers: true }),
      ...(firstBad?.fsck ? { fsck: firstBad.fsck } : {}),
      engineStderr: exit.stderr,
      phaseMs,
      log,
    };
  });
}

function countBy<T extends string>(items: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}
