/**
 * Undo steps for everything the harness created (LIFO), run when a trial ends, when it fails,
 * and on SIGINT/SIGTERM. Steps are best-effort: a failing step is reported, the rest still run.
 */
type Step = { label: string; undo: () => Promise<void> };

const steps: Step[] = [];
let running: Promise<void> | undefined;

/** Registers an undo step; returns a function that removes it (call it once you undid it yourself). */
export function registerCleanup(label: string, undo: () => Promise<void>): () => void {
  const step = { label, undo };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

/** Runs every registered step, newest first. */
export function runCleanup(log: (line: string) => void = (l) => console.error(l)): Promise<void> {
  running ??= (async () => {
    while (steps.length > 0) {
      const step = steps.pop()!;
      try {
        await step.undo();
      } catch (error) {
        log(`cleanup: ${step.label} failed: ${(error as Error).message}`);
      }
    }
  })().finally(() => (running = undefined));
  return running;
}

export const pendingCleanups = (): string[] => steps.map((s) => s.label);

let installed = false;

/** On SIGINT/SIGTERM: clean up, then exit 130/143. A second signal exits at once. */
export function installSignalCleanup(): void {
  if (installed) return;
  installed = true;
  let signalled = false;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(code);
      signalled = true;
      console.error(`powercut: ${signal}, cleaning up ${steps.length} resource(s)...`);
      void runCleanup()
        .then(() => new Promise<void>((resolve) => process.stdout.write('', () => resolve())))
        .finally(() => process.exit(code));
    });
  }
}
