import type { DumpEntry, HistoryEvent } from '../../model/history.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import type { ExploredState, TrialResult } from '../../model/trial-result.ts';
import type { Verdict } from '../../model/verdict.ts';
import type { StateReport } from '../../logwrites/explorer-protocol.ts';
import type { LogEntry } from '../../logwrites/format.ts';
import { acksBeforeEach, type CrashState } from '../../logwrites/states.ts';
import { check } from '../../oracles/check.ts';
import { HistoryIndex } from '../../oracles/history-index.ts';
import { HarnessError } from '../errors.ts';
import { rawPagesFromBytes } from '../../engine/direct-layout.ts';
import { parseDump } from './recovered-state.ts';

/** One state's verdict, and the line it gets in the exploration report. */
export type JudgedState = {
  verdict: { id: string; verdict: Verdict; dump: DumpEntry[]; fsck: ExploredState['fsck'] };
  state: ExploredState;
};

/**
 * The judge of an exploration's crash states: a state's report (its recovered dump, raw pages,
 * fsck) against the history as of that state (the acks whose marks precede it in the log).
 * Built once per recording, so what does not change between states is done once: the ack marks
 * found, the history indexed once per number of acks, and one verdict per (dump, acks) when a
 * screen hands the same dump to states whose stores were the same.
 */
export function stateJudge(o: {
  entries: readonly LogEntry[];
  states: readonly CrashState[];
  ops: TrialResult['ops'];
  history: readonly HistoryEvent[];
  transactional: boolean;
  engine: TrialPlan['engine'];
  pages: number;
  /** Pages a state's device fault took from the engine (misdirect-excuse.ts), if any. */
  excusedIn?: (state: CrashState) => ReadonlySet<number> | undefined;
}): (report: StateReport, checkedBy: 'kernel' | 'host') => JudgedState {
  const { engine, pages } = o;
  const byId = new Map(o.states.map((s) => [s.id, s]));
  // Same dump, same number of acks before it (acks are marks in log order: the same acks),
  // same pages excused: the same verdict.
  const verdicts = new WeakMap<object, Map<string, Verdict>>();
  const acksAt = acksBeforeEach(o.entries);
  const indexes = new Map<number, HistoryIndex>();
  const indexFor = (acked: ReadonlySet<number>): HistoryIndex => {
    let index = indexes.get(acked.size);
    if (!index) {
      index = new HistoryIndex({
        ops: o.ops,
        events: o.history.filter((e) => e.type !== 'ok' || acked.has(e.id)),
      });
      indexes.set(acked.size, index);
    }
    return index;
  };
  const judgeAnew = (
    report: StateReport,
    dump: DumpEntry[],
    acked: ReadonlySet<number>,
    excused: ReadonlySet<number> | undefined,
  ): Verdict => {
    const index = indexFor(acked);
    const raw = report.rawBytes ?? (report.raw ? Buffer.from(report.raw, 'base64') : undefined);
    const rawPages =
      report.rawPages ??
      (raw && engine.kind === 'builtin'
        ? rawPagesFromBytes(raw, engine.pageSize, pages)
        : undefined);
    return check(index.history, dump, {
      index,
      transactional: o.transactional,
      ...(rawPages ? { rawPages } : {}),
      ...(report.decodeRaw ? { decodeRaw: report.decodeRaw } : {}),
      ...(report.recoverError !== undefined ? { recoverError: report.recoverError } : {}),
      fsck: report.fsck,
      ...(excused ? { excused } : {}),
    });
  };
  return (report, checkedBy) => {
    const state = byId.get(report.id);
    if (!state) throw new HarnessError(`the explorer reported an unknown state ${report.id}`);
    const acked = acksAt(state.at);
    const dump =
      report.dump ??
      (report.dumpStdout !== undefined
        ? parseDump(report.dumpStdout, pages)
        : parseDump('', pages));
    const excused = o.excusedIn?.(state);
    const key = `${acked.size}${excused ? `/${[...excused].join(',')}` : ''}`;
    const known = report.dump ? verdicts.get(report.dump)?.get(key) : undefined;
    const verdict = known ?? judgeAnew(report, dump, acked, excused);
    if (report.dump && !known) {
      const byKey = verdicts.get(report.dump) ?? new Map<string, Verdict>();
      byKey.set(key, verdict);
      verdicts.set(report.dump, byKey);
    }
    return {
      verdict: { id: state.id, verdict, dump, fsck: report.fsck },
      state: {
        id: state.id,
        boundary: state.boundary,
        acked: acked.size,
        valid: verdict.valid,
        anomalies: verdict.anomalies,
        fsck: report.fsck,
        ...(report.recoverError ? { recoverError: report.recoverError } : {}),
        ms: report.ms,
        checkedBy,
      },
    };
  };
}
