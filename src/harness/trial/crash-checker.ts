import type { History } from '../../model/history.ts';
import type { TrialResult } from '../../model/trial-result.ts';
import type { WorkloadOp } from '../../model/workload.ts';
import type { TrialPlan } from '../../model/trial-plan.ts';
import type { Target } from '../target/target.ts';
import type { PhaseClock } from './phase-clock.ts';

/** What every part of one trial shares: the plan, its workload and its clocks. */
export type TrialContext = {
  target: Target;
  plan: TrialPlan;
  ops: WorkloadOp[];
  transactional: boolean;
  pages: number;
  clock: PhaseClock;
  timeoutMs: number;
  quietMs: number;
};

/** The parts of a TrialResult a checker decides, and what the engine said while it recovered. */
export type Judgement = Pick<
  TrialResult,
  'dump' | 'verdict' | 'expectation' | 'fsck' | 'recoverError' | 'exploration' | 'artifacts'
> & { recoveryStderr: string[] };

/**
 * The checker side of a trial (Jepsen's checker), after the plug was pulled: brings the store
 * back and judges it against the history.
 *
 * - RecoveryChecker (recovery-check.ts): the one crash that happened: remount, the engine's
 *   recover and dump, fsck, the oracles.
 * - ExplorationChecker (exploration-check.ts): every chosen crash state of a log-writes
 *   recording, each rebuilt, recovered and checked by the same oracles.
 */
export interface CrashChecker {
  judge(history: History): Promise<Judgement>;
}
