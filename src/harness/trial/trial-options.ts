import type { WorkloadOp } from '../../model/workload.ts';
import type { TrialPhase } from '../../model/trial-result.ts';

/** How to run one trial (both kinds: a dm-flakey trial and a log-writes exploration). */
export type RunTrialOptions = {
  onPhase?: (phase: TrialPhase) => void;
  /** Per-step timeout for the engine (ms). */
  timeoutMs?: number;
  /** How long an engine may go without any event before the trial goes on without its answers. */
  quietMs?: number;
  /** Run this workload instead of the one the plan's seed generates (shrinking). */
  ops?: WorkloadOp[];
  /**
   * Where the trial's steps run: one round trip each from here (the default), or in the
   * target's trial agent (one request per trial; dm-flakey trials on a remote target).
   */
  via?: 'agent' | 'steps';
};
