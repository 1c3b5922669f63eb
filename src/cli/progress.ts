import { Listr } from 'listr2';
import type { LoadedScenario } from '../scenario/load.ts';
import type { TrialPhase, TrialResult } from '../model/trial-result.ts';
import type { TrialPlan } from '../model/trial-plan.ts';

type Queued = { loaded: LoadedScenario; plan: TrialPlan };
type RunQueued = (
  item: Queued,
  log: (line: string) => void,
  onPhase: (phase: TrialPhase, slot: number) => void,
) => Promise<TrialResult | { error: string }>;

/**
 * Runs the queued trials under a listr2 task list, `concurrency` at a time: each running
 * trial's title shows its guest and current phase (device, workload, fault, recover, check),
 * then its result line.
 */
export async function withProgress(
  queue: readonly Queued[],
  concurrency: number,
  runQueued: RunQueued,
): Promise<void> {
  const list = new Listr(
    queue.map((item) => {
      const name = `${item.loaded.name}/${item.plan.id}`;
      return {
        title: name,
        task: async (_: unknown, task: { title: string; output: string }) => {
          let last = '';
          const result = await runQueued(
            item,
            (line) => {
              last = line;
              task.output = line;
            },
            (phase, slot) =>
              (task.title =
                concurrency > 1 ? `[guest ${slot + 1}] ${name}: ${phase}` : `${name}: ${phase}`),
          );
          task.title = last || name;
          if ('error' in result) throw new Error(result.error);
        },
      };
    }),
    { concurrent: concurrency, exitOnError: false, rendererOptions: { collapseErrors: false } },
  );
  await list.run().catch(() => undefined);
}
