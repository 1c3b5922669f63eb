import { HarnessError } from './errors.ts';

/**
 * Rejects after `ms` with a HarnessError naming `what`, once `onTimeout` (which ends the
 * command: kills it, on the target too) has run; its own failure is not the error reported.
 * The one timeout of the harness: commands (ssh, local) and waits on the target's output.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => void | Promise<void> = () => undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      void (async () => {
        try {
          await onTimeout();
        } catch {
          // the timeout is what the caller needs to hear about
        }
        reject(new HarnessError(`${what} timed out after ${ms} ms`));
      })();
    }, ms);
  });
  try {
    // Ending the command settles it too: once timed out, the timeout is the answer.
    return await Promise.race([promise.then((value) => (timedOut ? timeout : value)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
