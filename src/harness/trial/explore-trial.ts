import { engineTraits } from '../../engine/engine.ts';
import { gunzipSync } from 'node:zlib';
import type { DumpEntry, History, HistoryEvent } from '../../model/history.ts';
import type { Verdict } from '../../model/verdict.ts';
import { check } from '../../oracles/check.ts';
import { meetsExpectation } from '../../oracles/expectation.ts';
import { endMark, entryFlags, type LogEntry } from '../../logwrites/format.ts';
import type { ExplorerConfig, StateReport } from '../../logwrites/guest-explorer.ts';
import {
  acksBefore,
  exploreStates,
  formatExploreMode,
  parseExploreMode,
} from '../../logwrites/states.ts';
import type { TrialPlan } from '../../scenario/trial-plan.ts';
import { isTransactional } from '../../scenario/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { builtinOptions, engineCommand } from './engine-command.ts';
import { EngineSession } from './engine-session.ts';
import { feedOps, finishWorkload } from './feed.ts';
import { guestExplorerCommand, installUserEngine } from './guest-engine.ts';
import { parseDump, rawBytesNeeded, rawPagesFromBytes } from './recovered-state.ts';
import type { RunTrialOptions } from './trial-options.ts';
import type { ExplorationReport, ExploredState, TrialResult } from '../../model/trial-result.ts';

export type { ExplorationReport, ExploredState } from '../../model/trial-result.ts';
import { PhaseClock } from './phase-clock.ts';
import { tracedCommand } from './syscall-stop.ts';
import { TrialRig } from './trial-rig.ts';
import { generateWorkload } from './workload-gen.ts';

/** The mark put into the log just before the engine starts: states before it are mkfs's. */
export const startMark = 'powercut:start';
export const defaultMaxStates = 400;

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

type Explored = {
  entries: LogEntry[];
  sectorSize: number;
  logBytes: number;
  startEntry: number;
  states: ExploredState[];
  verdicts: { id: string; verdict: Verdict; dump: DumpEntry[]; fsck: ExploredState['fsck'] }[];
  errors: { id: string; message: string }[];
  sampledFrom?: number;
  replayMatchesDevice: boolean;
};

/** Runs the guest explorer over the recorded log and checks every state it reports. */
async function checkRecordedStates(
  target: Target,
  plan: TrialPlan,
  o: {
    log: string;
    data: string;
    storeName: string;
    transactional: boolean;
    ops: TrialResult['ops'];
    history: readonly HistoryEvent[];
    mode: NonNullable<ReturnType<typeof parseExploreMode>>;
    table: string;
    mountPoint: string;
    workDir: string;
    timeoutMs: number;
  },
): Promise<Explored> {
  const pages = plan.workload.pages;
  const engine = plan.engine;
  const store = `${o.mountPoint}/${o.storeName}`;
  const directLayout = engine.kind === 'builtin' && engineTraits[engine.mode].directLayout;
  const config: ExplorerConfig = {
    workDir: o.workDir,
    log: o.log,
    data: o.data,
    deviceBytes: plan.device.sizeMb * 1024 * 1024,
    table: o.table,
    mountPoint: o.mountPoint,
    fs: plan.filesystem.type,
    ...(plan.filesystem.mountOptions ? { mountOptions: plan.filesystem.mountOptions } : {}),
    storeName: o.storeName,
    engine:
      engine.kind === 'builtin'
        ? {
            kind: 'builtin',
            mode: engine.mode,
            direct: engine.direct,
            options: builtinOptions(engine, pages),
          }
        : {
            kind: 'external',
            recover: engineCommand(engine, 'recover', store, pages),
            dump: engineCommand(engine, 'dump', store, pages),
          },
    ...(directLayout ? { rawBytes: rawBytesNeeded(engine.pageSize, pages) } : {}),
  };
  const explorer = await target.spawn(guestExplorerCommand);
  try {
    const lines = explorer.lines[Symbol.asyncIterator]();
    const next = async (what: string): Promise<Record<string, unknown>> => {
      for (;;) {
        const r = await withTimeout(lines.next(), o.timeoutMs, what);
        if (r.done) {
          const end = await explorer.done;
          throw new HarnessError(
            `the crash-state explorer ended before ${what}: ${end.stderr.trim().split('\n').at(-1) ?? `exit ${end.code}`}`,
          );
        }
        if (r.value.startsWith('{')) return JSON.parse(r.value) as Record<string, unknown>;
      }
    };
    explorer.stdin.write(`${JSON.stringify(config)}\n`);
    const index = (await next('the log index')) as {
      sectorSize: number;
      logBytes: number;
      entries: [number, number, number, string | null][];
    };
    const entries: LogEntry[] = index.entries.map(([sector, nrSectors, flags, mark], i) => ({
      index: i,
      dataOffset: 0,
      sector,
      nrSectors,
      flush: (flags & entryFlags.flush) !== 0,
      fua: (flags & entryFlags.fua) !== 0,
      discard: (flags & entryFlags.discard) !== 0,
      metadata: (flags & entryFlags.metadata) !== 0,
      ...(mark === null ? {} : { mark }),
    }));
    const start = entries.findIndex((e) => e.mark === startMark);
    if (start < 0) throw new HarnessError(`the recorded log has no ${startMark} mark`);
    if (entries.at(-1)?.mark !== endMark) {
      throw new HarnessError(
        `the recorded log does not end with ${endMark}: the log device filled up or logging failed`,
      );
    }
    const chosen = exploreStates(entries, o.mode, {
      maxStates: plan.fault.maxStates ?? defaultMaxStates,
      seed: plan.seed,
      from: start + 1,
    });
    explorer.stdin.write(`${JSON.stringify({ states: chosen.states })}\n`);
    const byId = new Map(chosen.states.map((s) => [s.id, s]));
    const result: Explored = {
      entries,
      sectorSize: index.sectorSize,
      logBytes: index.logBytes,
      startEntry: start,
      states: [],
      verdicts: [],
      errors: [],
      ...(chosen.sampledFrom ? { sampledFrom: chosen.sampledFrom } : {}),
      replayMatchesDevice: false,
    };
    for (let n = 0; n < chosen.states.length; n++) {
      const report = (await next(
        `state ${n + 1} of ${chosen.states.length}`,
      )) as unknown as StateReport;
      const state = byId.get(report.id);
      if (!state) throw new HarnessError(`the explorer reported an unknown state ${report.id}`);
      if (report.error) {
        result.errors.push({ id: report.id, message: report.error });
        continue;
      }
      const acked = acksBefore(entries, state.at);
      const history: History = {
        ops: o.ops,
        events: o.history.filter((e) => e.type !== 'ok' || acked.has(e.id)),
      };
      const dump =
        report.dump ??
        (report.dumpStdout !== undefined
          ? parseDump(report.dumpStdout, pages)
          : parseDump('', pages));
      const rawPages =
        report.raw && engine.kind === 'builtin'
          ? rawPagesFromBytes(Buffer.from(report.raw, 'base64'), engine.pageSize, pages)
          : undefined;
      const verdict = check(history, dump, {
        transactional: o.transactional,
        ...(rawPages ? { rawPages } : {}),
        ...(report.recoverError !== undefined ? { recoverError: report.recoverError } : {}),
        fsck: report.fsck,
      });
      result.verdicts.push({ id: state.id, verdict, dump, fsck: report.fsck });
      result.states.push({
        id: state.id,
        boundary: state.boundary,
        acked: acked.size,
        valid: verdict.valid,
        anomalies: verdict.anomalies,
        fsck: report.fsck,
        ...(report.recoverError ? { recoverError: report.recoverError } : {}),
        ms: report.ms,
      });
    }
    const done = (await next('the end of the exploration')) as { replayMatchesDevice: boolean };
    result.replayMatchesDevice = done.replayMatchesDevice;
    return result;
  } finally {
    explorer.stdin.end();
    await withTimeout(explorer.done, 30_000, 'the explorer to exit').catch(() => explorer.kill());
  }
}

function countBy<T extends string>(items: readonly T[]): Partial<Record<T, number>> {
  const counts: Partial<Record<T, number>> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HarnessError(`timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The used part of the log, gzip'd in the target and brought back (to rebuild states on the host). */
async function downloadLog(target: Target, logFile: string, bytes: number): Promise<Uint8Array> {
  const r = await target.exec(`head -c ${bytes} ${logFile} | gzip -c | base64 -w 0`, {
    timeoutMs: 300_000,
  });
  const gz = Buffer.from(r.stdout.trim(), 'base64');
  if (gunzipSync(gz).length !== bytes)
    throw new HarnessError(`downloaded log is not ${bytes} bytes long`);
  return gz;
}
