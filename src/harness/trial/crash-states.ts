import { engineTraits } from '../../engine/engine.ts';
import { gunzipSync } from 'node:zlib';
import type { DumpEntry, HistoryEvent } from '../../model/history.ts';
import type { Verdict } from '../../model/verdict.ts';
import { endMark, entryFlags, startMark, type LogEntry } from '../../logwrites/format.ts';
import type { ExplorerConfig, StateReport } from '../../logwrites/explorer-protocol.ts';
import {
  exploreStates,
  formatExploreMode,
  parseExploreMode,
  type CrashState,
} from '../../logwrites/states.ts';
import type { FileExtent } from '../fs/store-extents.ts';
import type { SectorRange } from '../device/dm-table.ts';
import { misdirectExcuse } from './misdirect-excuse.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import { withTimeout } from '../timeout.ts';
import { stateJudge, type JudgedState } from './state-judge.ts';
import type { Target } from '../target/target.ts';
import { builtinOptions, engineCommand, storeSize } from './engine-command.ts';
import { guestExplorerCommand } from './guest-engine.ts';
import { rawBytesNeeded } from './recovered-state.ts';
import type { ExploredState, ScreenSummary, TrialResult } from '../../model/trial-result.ts';

/**
 * The checker side of a log-writes trial: the explorer client. It drives the guest explorer
 * (src/logwrites/guest-explorer.ts) over a recorded log, one crash state after another, and
 * checks each state it reports with the oracles; it also brings the log back for failing states.
 */

export { startMark } from '../../logwrites/format.ts';
export const defaultMaxStates = 400;

export type Explored = {
  entries: LogEntry[];
  sectorSize: number;
  logBytes: number;
  startEntry: number;
  states: ExploredState[];
  verdicts: { id: string; verdict: Verdict; dump: DumpEntry[]; fsck: ExploredState['fsck'] }[];
  errors: { id: string; message: string }[];
  sampledFrom?: number;
  replayMatchesDevice: boolean;
  screen?: ScreenSummary;
  /** The recording (gzip), when a screen already brought it to the host. */
  logGz?: Uint8Array;
  /** Which writes `tear:N` tore (the store's, or every write and why), for the trial's log. */
  tearScope?: string;
};

export type { JudgedState } from './state-judge.ts';

/** What a screen found: every state judged, those the kernel must confirm, and its times. */
export type ScreenOutcome = {
  judged: JudgedState[];
  confirm: CrashState[];
  ms: number;
  downloadMs: number;
  /** The recording as downloaded (gzip), kept for a failing state's artifact. */
  logGz: Uint8Array;
  /** States whose store images differ (screen: store recovers each image once). */
  distinct?: number;
};

/** What a screen gets: the log's index, the states chosen, and the judge of a state's report. */
export type ScreenInput = {
  entries: LogEntry[];
  logBytes: number;
  states: CrashState[];
  judge: (report: StateReport, checkedBy: 'kernel' | 'host') => JudgedState;
};

/** Runs the guest explorer over the recorded log and checks every state it reports. */
export async function checkRecordedStates(
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
    /** Where the store lies on the device (`misdirect:N` puts writes at other blocks of it). */
    storeExtents?: () => Promise<FileExtent[]>;
    /**
     * Where the store file lies, or why that is not known (a directory store): `tear:N` then
     * tears only the store's own writes. A torn write of the filesystem's metadata (its
     * superblock, the journal's) can leave a filesystem that no longer mounts: that would test
     * the filesystem, not the engine, and leave nothing to judge.
     */
    storeLayout?: () => Promise<{ ranges: SectorRange[] } | { reason: string }>;
    /** Screens every state on the host and says which the kernel must confirm (host-screening.ts). */
    screen?: (input: ScreenInput) => Promise<ScreenOutcome>;
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
    ...(plan.fault.fsck ? { fsck: true } : {}),
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
  // misdirect:N: where a store write may land instead, and which pages that excuses (the
  // direct layout's slots); the engine and the store were checked against it by the scenario.
  const misdirectSpace = async (sectorSize: number) => {
    if (!directLayout || engine.kind !== 'builtin' || !o.storeExtents)
      throw new HarnessError(
        `fault.explore: ${formatExploreMode(o.mode)} needs a direct-layout built-in engine and its store file`,
      );
    return {
      extents: await o.storeExtents(),
      fileBytes: storeSize(engine, pages),
      alignBytes: engine.pageSize,
      sectorSize,
    };
  };
  const explorer = await target.spawn(guestExplorerCommand);
  try {
    const lines = explorer.lines[Symbol.asyncIterator]();
    const next = async (what: string): Promise<Record<string, unknown>> => {
      for (;;) {
        const r = await withTimeout(lines.next(), o.timeoutMs, `the wait for ${what}`);
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
    const misdirect =
      o.mode.kind === 'misdirect' ? await misdirectSpace(index.sectorSize) : undefined;
    const layout = o.mode.kind === 'tear' ? await o.storeLayout?.() : undefined;
    const tearWithin =
      layout && 'ranges' in layout
        ? { ranges: layout.ranges, sectorSize: index.sectorSize }
        : undefined;
    const chosen = exploreStates(entries, o.mode, {
      maxStates: plan.fault.maxStates ?? defaultMaxStates,
      seed: plan.seed,
      from: start + 1,
      ...(misdirect ? { misdirect } : {}),
      ...(tearWithin ? { tearWithin } : {}),
    });
    const judge = stateJudge({
      entries,
      states: chosen.states,
      ops: o.ops,
      history: o.history,
      transactional: o.transactional,
      engine,
      pages,
      ...(misdirect
        ? { excusedIn: misdirectExcuse({ entries, ...misdirect, pageSize: misdirect.alignBytes }) }
        : {}),
    });
    // Screening: every state on the host first; the kernel then checks the ones to confirm.
    const screened = o.screen
      ? await o.screen({ entries, logBytes: index.logBytes, states: chosen.states, judge })
      : undefined;
    const toKernel = screened?.confirm ?? chosen.states;
    explorer.stdin.write(`${JSON.stringify({ states: toKernel })}\n`);
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
      ...(o.mode.kind === 'tear'
        ? {
            tearScope: tearWithin
              ? `${formatExploreMode(o.mode)} tears the store's writes only (${tearWithin.ranges.length} extent(s))`
              : `${formatExploreMode(o.mode)} tears every write, the filesystem's too: ${layout && 'reason' in layout ? layout.reason : 'the store is not known'}`,
          }
        : {}),
    };
    const byKernel = new Map<string, JudgedState>();
    for (let n = 0; n < toKernel.length; n++) {
      const report = (await next(`state ${n + 1} of ${toKernel.length}`)) as unknown as StateReport;
      if (report.error) result.errors.push({ id: report.id, message: report.error });
      else byKernel.set(report.id, judge(report, 'kernel'));
    }
    // In the order the states were checked; where the kernel checked a state, its verdict.
    const order = screened ? screened.judged : [...byKernel.values()];
    for (const judged of order) {
      const final = byKernel.get(judged.state.id) ?? judged;
      result.verdicts.push(final.verdict);
      result.states.push(final.state);
    }
    if (screened) {
      const disagreements = screened.judged.flatMap(({ state: host }) => {
        const kernel = byKernel.get(host.id)?.state;
        return kernel && kernel.valid !== host.valid
          ? [{ id: host.id, host: host.valid, kernel: kernel.valid }]
          : [];
      });
      result.screen = {
        screened: screened.judged.length,
        confirmed: byKernel.size,
        disagreements,
        ms: screened.ms,
        downloadMs: screened.downloadMs,
        ...(screened.distinct !== undefined ? { distinct: screened.distinct } : {}),
      };
      result.logGz = screened.logGz;
    }
    const done = (await next('the end of the exploration')) as { replayMatchesDevice: boolean };
    result.replayMatchesDevice = done.replayMatchesDevice;
    return result;
  } finally {
    explorer.stdin.end();
    await withTimeout(explorer.done, 30_000, 'the wait for the explorer to exit').catch(() =>
      explorer.kill(),
    );
  }
}

/** The used part of the log, gzip'd in the target and brought back (to rebuild states on the host). */
export async function downloadLog(
  target: Target,
  logFile: string,
  bytes: number,
): Promise<Uint8Array> {
  const r = await target.exec(`head -c ${bytes} ${logFile} | gzip -1 -c | base64 -w 0`, {
    timeoutMs: 300_000,
  });
  const gz = Buffer.from(r.stdout.trim(), 'base64');
  if (gunzipSync(gz).length !== bytes)
    throw new HarnessError(`downloaded log is not ${bytes} bytes long`);
  return gz;
}
