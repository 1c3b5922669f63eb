import type { TrialPlan } from '../../model/trial-plan.ts';
import type { TrialPhase, TrialResult } from '../../model/trial-result.ts';
import type { WorkloadOp } from '../../model/workload.ts';

/**
 * The trial agent's protocol (one JSON object per line each way, over the target connection's
 * stdin and stdout): the host asks for whole trials, the agent runs each one inside the target
 * and streams back its phases, a heartbeat, and its result or error. Agent and host come from
 * one build (the agent is installed by hash with the guest engine), so it has no versions.
 */
export type AgentRequest = {
  id: number;
  plan: TrialPlan;
  /** The workload, drawn on the host (the trial is the same whichever side runs it). */
  ops: WorkloadOp[];
  timeoutMs?: number;
  quietMs?: number;
};

/** The result without its workload: the host sent the ops and puts them back. */
export type AgentResult = Omit<TrialResult, 'ops' | 'history'> & {
  events: TrialResult['history']['events'];
};

export type AgentMessage =
  | { id: number; phase: TrialPhase }
  /** Sent every `heartbeatMs` while a trial runs: the agent and the connection still live. */
  | { id: number; alive: true }
  | { id: number; result: AgentResult }
  | { id: number; error: string; harness: boolean };

export const heartbeatMs = 5_000;
