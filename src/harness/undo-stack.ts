import { registerCleanup } from './cleanup.ts';
import type { Target } from './target/target.ts';

/** An undo function, or a shell script in a target (neighbours on one target share a trip). */
type Step =
  | { label: string; undo: () => Promise<void> }
  | { label: string; script: { target: Target; text: string } };
type ScriptStep = Extract<Step, { script: unknown }>;
const scriptTimeoutMs = 120_000;

/**
 * Undo steps for what one owner created, run once, newest first. Every step runs even when an
 * earlier one fails; the failures are returned (and so reported), never swallowed. Registered
 * with the process-wide cleanup, so SIGINT/SIGTERM runs the same steps.
 */
export class UndoStack {
  private readonly steps: Step[] = [];
  private ran: Promise<string[]> | undefined;
  private readonly unregister: () => void;

  constructor(readonly label: string) {
    this.unregister = registerCleanup(label, async () => {
      const failures = await this.run();
      if (failures.length > 0) throw new Error(failures.join('; '));
    });
  }

  push(label: string, undo: () => Promise<void>): void {
    this.add({ label, undo });
  }

  /**
   * A step that is a shell script in `target` (exit 0: undone). Script steps next to each other
   * on one target run in one exec, each still in its own subshell with its own exit code.
   */
  pushScript(label: string, target: Target, text: string): void {
    this.add({ label, script: { target, text } });
  }

  private add(step: Step): void {
    if (this.ran)
      throw new Error(`${this.label}: undo step '${step.label}' added after the undo ran`);
    this.steps.push(step);
  }

  /**
   * Runs `lead`, a script in `target`, and then every step, in one exec: when every step is a
   * script in `target` (a trial's last check and its teardown, one round trip). Returns what
   * `lead` printed and exited with; the steps' failures are what run() returns from then on.
   * Returns undefined, running nothing, when the steps cannot go with it (or already ran).
   */
  async runAfter(
    target: Target,
    lead: string,
    leadTimeoutMs: number,
  ): Promise<{ code: number | null; stdout: string; stderr: string } | undefined> {
    const order = [...this.steps].reverse();
    if (this.ran || !order.every((s) => 'script' in s && s.script.target === target))
      return undefined;
    const batch = order as ScriptStep[];
    let led: { code: number | null; stdout: string; stderr: string } | undefined;
    let failed: unknown;
    this.ran = (async () => {
      const script = `(\n${lead}\n)\nlead_rc=$?; echo; echo "${leadEnds} $lead_rc"\n${batchScript(batch.map((s) => s.script.text))}`;
      let failures: string[];
      try {
        const result = await target.exec(script, {
          timeoutMs: leadTimeoutMs + scriptTimeoutMs * batch.length,
          check: false,
        });
        const end = result.stdout.lastIndexOf(`\n${leadEnds} `);
        const code = /^\d+/.exec(result.stdout.slice(end + leadEnds.length + 2))?.[0];
        led = {
          code: end < 0 || code === undefined ? null : Number(code),
          stdout: end < 0 ? result.stdout : result.stdout.slice(0, end),
          stderr: result.stderr,
        };
        failures = batchFailures(batch, end < 0 ? '' : result.stdout.slice(end));
      } catch (error) {
        // The steps' answer too: each failed with the exec.
        failed = error;
        failures = batch.map((step) => `${step.label}: ${(error as Error).message}`);
      }
      this.unregister();
      return failures;
    })();
    await this.ran;
    if (failed !== undefined) throw failed;
    return led;
  }

  /** Runs every step once, newest first; a later call gets the first call's failures. */
  run(): Promise<string[]> {
    this.ran ??= (async () => {
      const failures: string[] = [];
      const order = [...this.steps].reverse();
      for (let i = 0; i < order.length;) {
        const step = order[i]!;
        if ('script' in step) {
          const batch = scriptBatch(order.slice(i), step.script.target);
          failures.push(...(await runBatch(batch)));
          i += batch.length;
          continue;
        }
        i++;
        try {
          await step.undo();
        } catch (error) {
          failures.push(`${step.label}: ${(error as Error).message}`);
        }
      }
      this.unregister();
      return failures;
    })();
    return this.ran;
  }
}

/** The script steps at the head of `steps` that run in `target`. */
function scriptBatch(steps: readonly Step[], target: Target): ScriptStep[] {
  const batch: ScriptStep[] = [];
  for (const step of steps) {
    if (!('script' in step) || step.script.target !== target) break;
    batch.push(step);
  }
  return batch;
}

/**
 * One exec for several script steps: each in a subshell whose stderr is kept and whose exit
 * code is reported on its own line, so every step runs and fails alone, as if run one by one.
 */
async function runBatch(batch: readonly ScriptStep[]): Promise<string[]> {
  let stdout: string;
  try {
    const result = await batch[0]!.script.target.exec(
      batchScript(batch.map((s) => s.script.text)),
      {
        timeoutMs: scriptTimeoutMs * batch.length,
        check: false,
      },
    );
    stdout = result.stdout;
  } catch (error) {
    return batch.map((step) => `${step.label}: ${(error as Error).message}`);
  }
  return batchFailures(batch, stdout);
}

/** The line after which a lead script's output ends and its steps' begins (runAfter). */
const leadEnds = '__powercut_lead_end';

/** The failures of a batch's steps, from what the batch printed. */
function batchFailures(batch: readonly ScriptStep[], stdout: string): string[] {
  const outcomes = parseBatchOutput(stdout);
  return batch.flatMap((step, i) => {
    const done = outcomes.get(i);
    if (!done) return [`${step.label}: did not run (the batch ended early)`];
    if (done.code === 0) return [];
    return [`${step.label}: exited ${done.code}${done.stderr ? `: ${done.stderr}` : ''}`];
  });
}

/** The shell of a batch: part i reports `__undo i <exit code> <its stderr on one line>`. */
export function batchScript(parts: readonly string[]): string {
  return parts
    .map(
      (part, i) =>
        `e=$( (\n${part}\n) 2>&1 >/dev/null ); rc=$?; printf '__undo %d %d %s\\n' ${i} $rc "$(printf %s "$e" | tr '\\n' ' ')"`,
    )
    .join('\n');
}

/** The parts of a batch script, in order (for a fake target that answers each part alone). */
export function batchParts(script: string): string[] | undefined {
  const parts = [
    ...script.matchAll(/e=\$\( \(\n([\s\S]*?)\n\) 2>&1 >\/dev\/null \); rc=\$\?; printf '__undo /g),
  ].map((m) => m[1]!);
  return parts.length > 0 ? parts : undefined;
}

/** The lead script of a runAfter exec, if it has one (for a fake target). */
export function batchLead(script: string): string | undefined {
  const m = /^\(\n([\s\S]*?)\n\)\nlead_rc=\$\?; echo; echo "__powercut_lead_end \$lead_rc"\n/.exec(
    script,
  );
  return m?.[1];
}

/** Each part's exit code and stderr, by index. */
export function parseBatchOutput(stdout: string): Map<number, { code: number; stderr: string }> {
  const outcomes = new Map<number, { code: number; stderr: string }>();
  for (const m of stdout.matchAll(/^__undo (\d+) (\d+) ?(.*)$/gm))
    outcomes.set(Number(m[1]), { code: Number(m[2]), stderr: m[3]!.trim() });
  return outcomes;
}
