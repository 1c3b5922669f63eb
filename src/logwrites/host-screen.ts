import { execa } from 'execa';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  truncateSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineOptions } from '../engine/engine.ts';
import { fsckOutcome } from '../harness/fs/filesystem.ts';
import type { StateReport, StateRequest } from './explorer-protocol.ts';
import type { LogEntry, LogReader } from './format.ts';
import { applyEntries } from './replay.ts';
import { firstUnwhole, recoverBuiltin, replayOrder } from './state-recovery.ts';

export type ScreenConfig = {
  readLog: LogReader;
  entries: readonly LogEntry[];
  sectorSize: number;
  deviceBytes: number;
  /** The store file's path relative to the filesystem root. */
  storeName: string;
  engine: { mode: string; direct: boolean; options: EngineOptions };
  rawBytes?: number;
};

/**
 * Screens crash states of an ext4 recording on the host, with no kernel: the state's image is
 * replayed from the log, e2fsck replays ext4's journal (what a mount would do first), debugfs
 * copies the store file out, and the built-in engine recovers and dumps it in-process. Then a
 * read-only e2fsck. The report has the guest explorer's shape, so the same oracles judge it;
 * what a kernel mount would do beyond the journal (orphans, delayed allocation) is not here,
 * which is why the states it fails, and a seeded sample of those it passes, are confirmed on
 * a real kernel (crash-states.ts).
 */
export async function screenStates(
  config: ScreenConfig,
  states: readonly StateRequest[],
): Promise<StateReport[]> {
  const dir = mkdtempSync(join(scratchRoot(), 'powercut-screen-'));
  const current = join(dir, 'current.img');
  closeSync(openSync(current, 'w'));
  truncateSync(current, config.deviceBytes);
  let currentAt = 0;
  const replay = (path: string, from: number, to: number, state?: StateRequest): void => {
    const fd = openSync(path, 'r+');
    try {
      applyEntries(
        config.readLog,
        fd,
        config.entries.slice(from, to),
        config.sectorSize,
        new Set(state?.dropped ?? []),
        state?.torn,
      );
    } finally {
      closeSync(fd);
    }
  };
  // Each state's image is a sparse copy of the replayed base (a few MB of a 64 MB device), so
  // states are prepared one after another and their e2fsck/debugfs/recover chains run side by side.
  const reports = new Map<string, StateReport>();
  const running = new Set<Promise<void>>();
  const parallel = Math.max(1, Math.min(4, availableParallelism()));
  try {
    const order = replayOrder(states);
    for (const [n, state] of order.entries()) {
      const start = Date.now();
      const base = firstUnwhole(state);
      replay(current, currentAt, base);
      currentAt = base;
      const image = join(dir, `state-${n}.img`);
      await execa('cp', ['--sparse=always', current, image]);
      replay(image, currentAt, state.at, state);
      const task = recoverState(config, image, join(dir, `store-${n}`))
        .then((recovered) => {
          reports.set(state.id, {
            type: 'state',
            id: state.id,
            ms: Date.now() - start,
            ...recovered,
          });
        })
        .finally(() => {
          rmSync(image, { force: true });
          rmSync(join(dir, `store-${n}`), { force: true });
          running.delete(task);
        });
      running.add(task);
      if (running.size >= parallel) await Promise.race(running);
    }
    await Promise.all(running);
    return order.map((s) => reports.get(s.id)!);
  } finally {
    await Promise.allSettled(running);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Memory-backed scratch space when there is some: images are written and read once each. */
function scratchRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

async function recoverState(
  config: ScreenConfig,
  image: string,
  store: string,
): Promise<Omit<StateReport, 'type' | 'id' | 'ms'>> {
  // -E journal_only: replay the journal, nothing more (exit 0 or 1: replayed or nothing to do).
  const journal = await execa('e2fsck', ['-E', 'journal_only', '-y', image], {
    reject: false,
    all: true,
  });
  if ((journal.exitCode ?? 8) >= 4) {
    const fsck = fsckOutcome(journal.exitCode ?? null, journal.all ?? '');
    return {
      recoverError: `the ext4 journal could not be replayed (e2fsck exit ${journal.exitCode})`,
      fsck: { clean: false, output: fsck.output },
    };
  }
  await execa('debugfs', ['-R', `dump -p /${config.storeName} ${store}`, image], { reject: false });
  const fsckRun = await execa('e2fsck', ['-fn', image], { reject: false, all: true });
  const fsck = fsckOutcome(fsckRun.exitCode ?? null, fsckRun.all ?? '');
  if (!existsSync(store))
    return { recoverError: `the store /${config.storeName} is not in the filesystem`, fsck };
  // Buffered: the copy may sit where O_DIRECT is not allowed; recovery reads the same bytes.
  const engine = { ...config.engine, direct: false };
  return { ...(await recoverBuiltin(store, engine, config.rawBytes)), fsck };
}
