import type { RemoteProcess, Target } from './target.ts';

/**
 * One long-lived process per target connection (the engine server, the trial agent): the one
 * `held` has for `target`, or one started now when it has none, its start failed, or it ended.
 */
export function livePerTarget<T>(
  held: WeakMap<Target, Promise<T>>,
  target: Target,
  start: () => Promise<T>,
  ended: (process: T) => boolean,
): Promise<T> {
  const fresh = (): Promise<T> => {
    const starting = start();
    held.set(target, starting);
    return starting;
  };
  const known = held.get(target);
  if (!known) return fresh();
  return known.then(
    (process) => (ended(process) ? fresh() : process),
    () => fresh(),
  );
}

/** The last line an ended process wrote on stderr (waited for briefly), as ` (line)`, or ''. */
export async function lastWords(process: RemoteProcess): Promise<string> {
  const stderr = await Promise.race([
    process.done.then((r) => r.stderr),
    new Promise<string>((resolve) => setTimeout(() => resolve(''), 1000).unref()),
  ]);
  const line = stderr.trim().split('\n').at(-1) ?? '';
  return line ? ` (${line})` : '';
}
