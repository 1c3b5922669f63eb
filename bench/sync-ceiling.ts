import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const source = 'bench/native/sync-ceiling.c';

/** Builds bench/native/sync-ceiling.c into `dir` (again when the source is newer). */
function build(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'sync-ceiling');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs)
    execFileSync('gcc', ['-O2', '-pthread', '-o', binary, source]);
  return binary;
}

export type SyncReference = { opsPerSec: number; fdatasyncs: number };

/**
 * The C references for group commit with `writers` writers on this disk, 4 KiB pages:
 * `perWriteSync`, that many threads each doing pwrite + fdatasync (the real multi-writer
 * fsync-per-write); `ceiling`, one thread doing `writers` pwrites then one fdatasync; and
 * `engineCeiling`, the same at the very offsets the engine bench writes (its ping-pong layout,
 * twice the file, pages in the workload's order), which cost this disk ~10-20 % more.
 */
export function syncReferences(
  dir: string,
  writers: number,
  ops: number,
): { perWriteSync: SyncReference; ceiling: SyncReference; engineCeiling: SyncReference } {
  const binary = build(dir);
  const run = (mode: 'threads' | 'batch' | 'engine'): SyncReference => {
    const file = join(dir, `sync-ceiling-${mode}-${writers}.db`);
    rmSync(file, { force: true });
    const [opsPerSec, fdatasyncs] = execFileSync(
      binary,
      [mode, String(writers), file, String(ops)],
      {
        encoding: 'utf8',
      },
    )
      .trim()
      .split(' ')
      .map(Number);
    rmSync(file, { force: true });
    return { opsPerSec: opsPerSec!, fdatasyncs: fdatasyncs! };
  };
  return {
    perWriteSync: run('threads'),
    ceiling: run('batch'),
    engineCeiling: run('engine'),
  };
}
