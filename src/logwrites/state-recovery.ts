import { closeSync, openSync, readSync } from 'node:fs';
import { realClock } from '../engine/clock.ts';
import type { EngineContext, EngineOptions } from '../engine/engine.ts';
import { openStoreFile } from '../engine/file-store.ts';
import { getEngineMode } from '../engine/registry.ts';
import type { StateReport, StateRequest } from './explorer-protocol.ts';

/** The first log entry a state does not take whole: where the replayed base must stop. */
export const firstUnwhole = (s: StateRequest): number =>
  Math.min(
    s.at,
    ...s.dropped,
    ...(s.torn ? [s.torn.entry] : []),
    ...(s.misdirect ? [s.misdirect.entry] : []),
  );

/** States in the order a replay that only moves forward can serve them. */
export const replayOrder = (states: readonly StateRequest[]): StateRequest[] =>
  [...states].sort((a, b) => firstUnwhole(a) - firstUnwhole(b));

/** The first `bytes` of a file, base64 (both on-disk copies of each page, for the integrity checker). */
export function readHead(path: string, bytes: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    let done = 0;
    while (done < bytes) {
      const n = readSync(fd, buf, done, bytes - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done).toString('base64');
  } finally {
    closeSync(fd);
  }
}

/** A built-in engine's recover and dump, in-process, on a crash state's store file. */
export async function recoverBuiltin(
  store: string,
  engine: { mode: string; direct: boolean; options: EngineOptions },
  rawBytes: number | undefined,
): Promise<Partial<StateReport>> {
  const raw = rawBytes ? readHead(store, rawBytes) : undefined;
  const file = await openStoreFile(store, { direct: engine.direct });
  try {
    return await recoverAndDump(
      engine.mode,
      { file, clock: realClock, options: engine.options },
      raw,
    );
  } finally {
    await file.close();
  }
}

/** What a state's report says of a failed recovery: the error's first line. */
export const recoverErrorOf = (error: unknown): string =>
  (error as Error).message.split('\n')[0] || 'recover failed';

/**
 * A built-in engine's recover, then its dump if recovery worked, on a crash state's store
 * (a file, or memory); `raw` (both on-disk copies of each page, base64) is passed along.
 */
export async function recoverAndDump(
  modeName: string,
  ctx: EngineContext,
  raw: string | undefined,
): Promise<Pick<StateReport, 'recoverError' | 'dump' | 'raw'>> {
  const mode = getEngineMode(modeName);
  let recoverError: string | undefined;
  try {
    await mode.recover(ctx);
  } catch (error) {
    recoverError = recoverErrorOf(error);
  }
  const dump = recoverError !== undefined ? undefined : await mode.dump(ctx);
  return {
    ...(recoverError !== undefined ? { recoverError } : {}),
    ...(dump ? { dump } : {}),
    ...(raw ? { raw } : {}),
  };
}
