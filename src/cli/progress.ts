import { Listr } from 'listr2';
import type { TrialPhase, TrialResult } from '../model/trial-result.ts';
import type { TrialPlan } from '../scenario/trial-plan.ts';

type RunOne = (
  plan: TrialPlan,
  log: (line: string) => void,
  onPhase: (phase: TrialPhase) => void,
) => Promise<TrialResult | { error: string }>;

/**
 * Runs trials one after the other under a listr2 task list: each trial's title shows its
 * current phase (device, workload, fault, recover, check), then its result line.
 */
export async function withProgress(
  plans: readonly TrialPlan[],
  runOne: RunOne,
  record: (plan: TrialPlan, result: TrialResult | { error: string }) => void,
): Promise<void> {
  const list = new Listr(
    plans.map((plan) => ({
      title: plan.id,
      task: async (_: unknown, task: { title: string; output: string }) => {
        let last = '';
        const result = await runOne(
          plan,
          (line) => {
            last = line;
            task.output = line;
          },
          (phase) => (task.title = `${plan.id}: ${phase}`),
        );
        record(plan, result);
        task.title = last || plan.id;
        if ('error' in result) throw new Error(result.error);
      },
    })),
    { concurrent: false, exitOnError: false, rendererOptions: { collapseErrors: false } },
  );
  await list.run().catch(() => undefined);
}
