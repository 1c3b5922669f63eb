import { registerCleanup } from './cleanup.ts';

type Step = { label: string; undo: () => Promise<void> };

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
    if (this.ran) throw new Error(`${this.label}: undo step '${label}' added after the undo ran`);
    this.steps.push({ label, undo });
  }

  /** Runs every step once, newest first; a later call gets the first call's failures. */
  run(): Promise<string[]> {
    this.ran ??= (async () => {
      const failures: string[] = [];
      for (const step of [...this.steps].reverse()) {
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
