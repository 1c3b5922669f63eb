import type { TrialPlan } from './trial-plan.ts';
import type { CrashState } from '../logwrites/states.ts';
import type { DumpEntry, History } from './history.ts';
import type { Anomaly, Verdict } from './verdict.ts';
import type { WorkloadOp } from './workload.ts';

// What a trial produced, for the checkers' callers: the report writers, the CLI, the library
// API. The runner (src/harness/trial/) produces it; nothing here depends on how.

export const trialPhases = ['device', 'workload', 'fault', 'recover', 'check'] as const;
/** Where a trial's time goes (PhaseClock books it). */
export type TrialPhase = (typeof trialPhases)[number];

/** One crash state of a log-writes recording, as checked. */
export type ExploredState = {
  id: string;
  boundary: CrashState['boundary'];
  /** Acknowledgements this state had to hold (their marks precede it in the log). */
  acked: number;
  valid: boolean;
  anomalies: Anomaly[];
  fsck: { clean: boolean; output: string };
  recoverError?: string;
  error?: string;
  ms: number;
  /** Who checked it: a real kernel (mount, the guest explorer), or the host's screen only. */
  checkedBy?: 'kernel' | 'host';
};

/** A screened exploration: every state on the host, some confirmed on a real kernel. */
export type ScreenSummary = {
  screened: number;
  /** States the kernel checked: every one the host failed, and a seeded sample of the rest. */
  confirmed: number;
  /** Confirmed states where the host and the kernel disagreed (the kernel's verdict stands). */
  disagreements: { id: string; host: boolean; kernel: boolean }[];
  /** Time the host's screen took (the log download included), and the download alone. */
  ms: number;
  downloadMs: number;
  /** screen: store: how many of the screened states had store images of their own. */
  distinct?: number;
};

/** A log-writes trial: the crash states explored and how each fared. */
export type ExplorationReport = {
  mode: string;
  /** Entries in the log (mkfs included) and where the engine's run starts. */
  logEntries: number;
  startEntry: number;
  sectorSize: number;
  checked: number;
  byBoundary: Partial<Record<CrashState['boundary'], number>>;
  /** Set when more states existed than `maxStates`: the number a full exploration would check. */
  sampledFrom?: number;
  statesPerSecond: number;
  exploreMs: number;
  /** The whole log replayed onto an empty image equals the recorded device, byte for byte. */
  replayMatchesDevice: boolean;
  failing: (ExploredState & { reproduce: string })[];
  screen?: ScreenSummary;
  errors: { id: string; message: string }[];
  states: ExploredState[];
};

/** One trial: its plan, workload, history, recovered state, verdict and what the harness saw. */
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
  /** What the engine wrote on stderr: its run, then its recover and dump (user engines). */
  engineStderr: string;
  phaseMs: Record<TrialPhase, number>;
  log: string[];
  /** Undo steps that failed after the trial (a harness error: something was left behind). */
  cleanupFailures?: string[];
};
