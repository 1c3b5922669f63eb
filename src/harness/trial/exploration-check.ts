import type { History } from '../../model/history.ts';
import type { Verdict } from '../../model/verdict.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import { formatExploreMode, type ExploreMode } from '../../logwrites/states.ts';
import { HarnessError } from '../errors.ts';
import type { LogWritesDevice } from '../device/fault-device.ts';
import type { ExplorationReport } from '../../model/trial-result.ts';
import type { CrashChecker, Judgement, TrialContext } from './crash-checker.ts';
import { checkRecordedStates, downloadLog } from './crash-states.ts';
import { hostScreen } from './host-screening.ts';
import type { TrialRig } from './trial-rig.ts';

export type { ExplorationReport } from '../../model/trial-result.ts';

/** Name of the artifact holding the recorded log (gzip), written beside a failing trial's results. */
export const logArtifact = 'log-writes.img.gz';

/**
 * The checker of a log-writes trial: every chosen crash state of the recording (mkfs included,
 * an `ack:<id>` mark after every acknowledgement) is rebuilt in the target, mounted, recovered,
 * dumped and checked by the same oracles (fsck'd too where the scenario asks), without a
 * reboot. The trial fails if any state fails; the recorded log is kept to rebuild a failing
 * state.
 */
export class ExplorationChecker implements CrashChecker {
  constructor(
    private readonly c: TrialContext,
    private readonly rig: TrialRig<LogWritesDevice>,
    private readonly store: string,
    private readonly mode: ExploreMode,
  ) {}

  async judge(history: History): Promise<Judgement> {
    const { target, plan, ops, pages, clock, transactional, timeoutMs } = this.c;
    const log = this.rig.log;
    const device = this.rig.faultDevice;
    const started = Date.now();
    const storeName = this.store.slice(this.rig.mountPoint.length + 1);
    const explored = await checkRecordedStates(target, plan, {
      log: device.names.logFile,
      data: device.names.backingFile,
      storeName,
      transactional,
      ops,
      history: history.events,
      mode: this.mode,
      table: device.names.stateTable,
      mountPoint: device.names.stateMountPoint,
      workDir: device.names.backingDir,
      timeoutMs,
      storeExtents: () => this.rig.requireStoreExtents(),
      storeLayout: () => this.rig.storeExtents(),
      ...(plan.fault.screen
        ? {
            screen: hostScreen(target, plan, {
              log: device.names.logFile,
              storeName,
              storeExtents: () => this.rig.requireStoreExtents(),
            }),
          }
        : {}),
    });
    const exploreMs = Date.now() - started;
    if (explored.tearScope) log.push(explored.tearScope);

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
      mode: formatExploreMode(this.mode),
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
      ...(explored.screen ? { screen: explored.screen } : {}),
      errors: explored.errors,
      states: explored.states,
    };
    const artifacts =
      failing.length > 0
        ? [
            {
              name: logArtifact,
              data:
                explored.logGz ??
                (await downloadLog(target, device.names.logFile, explored.logBytes)),
            },
          ]
        : [];
    if (explored.screen) {
      const { screened, confirmed, disagreements, ms } = explored.screen;
      log.push(
        `screened ${screened} state(s) on the host in ${(ms / 1000).toFixed(1)} s; the kernel confirmed ${confirmed}`,
      );
      for (const d of disagreements)
        log.push(
          `state ${d.id}: the host screen ${d.host ? 'passed' : 'failed'} it, the kernel ${d.kernel ? 'passed' : 'failed'} it (the kernel's verdict stands)`,
        );
    }
    log.push(
      `explored ${exploration.checked} crash state(s) (${exploration.mode}) of ${exploration.logEntries} log entries in ${(exploreMs / 1000).toFixed(1)} s: ${failing.length} failing`,
    );
    return {
      exploration,
      ...(artifacts.length > 0 ? { artifacts } : {}),
      dump: firstBad?.dump ?? [],
      verdict,
      expectation: meetsExpectation(verdict, plan.expect, { requireAnswers: true }),
      ...(firstBad?.fsck ? { fsck: firstBad.fsck } : {}),
      recoveryStderr: [],
    };
  }
}

function countBy<T extends string>(items: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}
