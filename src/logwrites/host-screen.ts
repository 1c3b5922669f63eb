import { execa } from 'execa';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineOptions } from '../engine/engine.ts';
import { fsckNotAsked, fsckOutcome } from '../harness/fs/filesystem.ts';
import type { StateReport, StateRequest } from './explorer-protocol.ts';
import { writesData, type LogEntry, type LogReader } from './format.ts';
import { applyEntries } from './replay.ts';
import { openExt4File } from './ext4-file.ts';
import { findExt4File } from './ext4-lookup.ts';
import { firstUnwhole, recoverAndDump, replayOrder } from './state-recovery.ts';
import { startScriptWorkers, type ScriptWorkers } from './script-workers.ts';
import { imageFile, type ImageSource } from '../sim/image-file.ts';
import { virtualClock } from '../engine/clock.ts';

export type ScreenConfig = {
  readLog: LogReader;
  entries: readonly LogEntry[];
  sectorSize: number;
  deviceBytes: number;
  /** The store file's path relative to the filesystem root. */
  storeName: string;
  engine: { mode: string; direct: boolean; options: EngineOptions };
  rawBytes?: number;
  /** The read-only e2fsck of every state, where the scenario asks for it (the journal is replayed either way). */
  fsck?: boolean;
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
        state ?? {},
      );
    } finally {
      closeSync(fd);
    }
  };
  // Each state's image is a sparse copy of the replayed base (a few MB of a 64 MB device), so
  // states are prepared one after another and their e2fsck/debugfs/recover chains run side by side.
  const reports = new Map<string, StateReport>();
  const running = new Set<Promise<void>>();
  // One more chain than cores: node's own share of a state (replay, copy, recovery) is done
  // on its one thread, while the e2fsprogs chains keep the cores busy (+10-50 % measured on 2).
  const parallel = Math.min(4, availableParallelism() + 1);
  const chains = startScriptWorkers(stateScript, parallel, [
    e2fsckProgram(),
    config.fsck ? 'yes' : 'no',
  ]);
  // One buffer for every state's copy: a fresh 1 MiB one per state (zeroed, faulted in, then
  // collected) had cost ~10 ms of node's thread, twice the copy itself.
  const copyBuffer = Buffer.allocUnsafe(1 << 20);
  try {
    const order = replayOrder(states);
    for (const [n, state] of order.entries()) {
      const start = Date.now();
      const base = firstUnwhole(state);
      replay(current, currentAt, base);
      currentAt = base;
      const image = join(dir, `state-${n}.img`);
      copyWritten(current, image, writtenRanges(config, base), config.deviceBytes, copyBuffer);
      replay(image, currentAt, state.at, state);
      const task = recoverState(config, chains, image, join(dir, `store-${n}`))
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
    chains.close();
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

/**
 * The state's e2fsprogs steps, run by a long-lived shell per chain (script-workers.ts): a
 * process spawned from node cost 13-16 ms of its one thread, and node's thread was what bound
 * the screen. Arguments: the e2fsck to run, whether to check (yes/no), the state's image, its
 * output prefix.
 * -E journal_only replays the journal, nothing more (exit 0 or 1: replayed or nothing to do);
 * then a read-only e2fsck judges the filesystem. Where the store's blocks are is read in-process
 * afterwards (ext4-lookup.ts; debugfs only where that cannot say).
 */
const stateScript = `
e2fsck=$1 check=$2 image=$3 out=$4
"$e2fsck" -E journal_only -y "$image" >"$out.journal" 2>&1
rc=$?
echo $rc >"$out.journal-rc"
[ $rc -lt 4 ] && [ "$check" = yes ] || return 0
"$e2fsck" -fn "$image" >"$out.fsck" 2>&1
echo $? >"$out.fsck-rc"
`;

/**
 * `e2fsck.static` where it is installed (Debian's e2fsck-static, vm/host-deps.sh): the same
 * e2fsck, built from the same source, without the dynamic loader's work at every start, which
 * on a 2-core host had cost a third of the screen's throughput (55 -> 81 states/s).
 */
function e2fsckProgram(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(join(dir || '.', 'e2fsck.static'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  return onPath ? 'e2fsck.static' : 'e2fsck';
}

async function recoverState(
  config: ScreenConfig,
  chains: ScriptWorkers,
  image: string,
  store: string,
): Promise<Omit<StateReport, 'type' | 'id' | 'ms'>> {
  const out = `${store}.out`;
  try {
    await chains.run([image, out]);
    const journalCode = Number(readFileSync(`${out}.journal-rc`, 'utf8'));
    if (journalCode >= 4) {
      const fsck = fsckOutcome(journalCode, readFileSync(`${out}.journal`, 'utf8'));
      return {
        recoverError: `the ext4 journal could not be replayed (e2fsck exit ${journalCode})`,
        fsck: { clean: false, output: fsck.output },
      };
    }
    const fsck = config.fsck
      ? fsckOutcome(
          Number(readFileSync(`${out}.fsck-rc`, 'utf8')),
          readFileSync(`${out}.fsck`, 'utf8'),
        )
      : fsckNotAsked;
    const file = await findExt4File(image, config.storeName);
    if (file.kind === 'missing')
      return { recoverError: `the store /${config.storeName} is not in the filesystem`, fsck };
    if (file.kind === 'extents') {
      const opened = openExt4File(image, file);
      try {
        return { ...(await recoverStore(config, opened.source)), fsck };
      } finally {
        opened.close();
      }
    }
    // Not mapped by extents alone: debugfs reads it.
    await execa('debugfs', ['-R', `dump -p /${config.storeName} ${store}`, image], {
      reject: false,
    });
    if (!existsSync(store))
      return { recoverError: `the store /${config.storeName} is not in the filesystem`, fsck };
    return { ...(await recoverStore(config, readFileSync(store))), fsck };
  } finally {
    for (const suffix of ['.journal', '.journal-rc', '.fsck', '.fsck-rc'])
      rmSync(`${out}${suffix}`, { force: true });
  }
}

/**
 * The built-in engine's recover and dump on the store's bytes, in memory: through a file, each
 * read was a trip through libuv's pool, which waited behind the e2fsprogs chains for the cores
 * (~80 ms a state, 40 % of a chain, on two cores).
 */
async function recoverStore(
  config: ScreenConfig,
  store: Uint8Array | ImageSource,
): Promise<Omit<StateReport, 'type' | 'id' | 'ms' | 'fsck'>> {
  const ctx = { file: imageFile(store), clock: virtualClock(), options: config.engine.options };
  return {
    ...(await recoverAndDump(config.engine.mode, ctx, undefined)),
    // The store's own bytes: the file copies them before any write the engine makes.
    ...(config.rawBytes ? { rawBytes: head(store, config.rawBytes) } : {}),
  };
}

function head(store: Uint8Array | ImageSource, bytes: number): Uint8Array {
  if (store instanceof Uint8Array) return store.subarray(0, bytes);
  const out = new Uint8Array(Math.min(bytes, store.size));
  store.readInto(0, out.length, out, 0);
  return out;
}

/**
 * The device ranges the first `upTo` entries wrote, merged: everything else in the replayed
 * image is a hole. Copying only these is the in-process `cp --sparse` (a whole 64 MB copy took
 * 60-85 ms per state, a spawned cp ~5 ms of node's thread).
 */
function writtenRanges(config: ScreenConfig, upTo: number): [number, number][] {
  const ranges = config.entries
    .slice(0, upTo)
    // Discards only zero (a hole reads as zero): the mkfs discard of the whole device would
    // otherwise make every copy whole.
    .filter((e) => writesData(e) && !e.discard)
    .map((e): [number, number] => [
      e.sector * config.sectorSize,
      (e.sector + e.nrSectors) * config.sectorSize,
    ])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** A sparse copy of `from` holding only `ranges` (clipped to the device), through `buffer`. */
function copyWritten(
  from: string,
  to: string,
  ranges: [number, number][],
  bytes: number,
  buffer: Buffer,
): void {
  const source = openSync(from, 'r');
  const target = openSync(to, 'w');
  try {
    ftruncateSync(target, bytes);
    for (const [start, rangeEnd] of ranges) {
      const end = Math.min(rangeEnd, bytes);
      for (let at = start; at < end;) {
        const n = readSync(source, buffer, 0, Math.min(buffer.length, end - at), at);
        if (n === 0) break;
        let written = 0;
        while (written < n)
          written += writeSync(target, buffer, written, n - written, at + written);
        at += n;
      }
    }
  } finally {
    closeSync(source);
    closeSync(target);
  }
}
