import { virtualClock } from '../engine/clock.ts';
import { DistinctBytes } from '../model/distinct-bytes.ts';
import type { EngineMode, EngineOptions } from '../engine/engine.ts';
import type { FileExtent } from '../harness/fs/store-extents.ts';
import { imageFile } from '../sim/image-file.ts';
import { getEngineMode } from '../engine/registry.ts';
import { rawPagesOf } from '../engine/direct-layout.ts';
import type { PageImage } from '../engine/page-image.ts';
import { InternedPages } from './interned-pages.ts';
import type { StateReport, StateRequest } from './explorer-protocol.ts';
import { touchesRanges, writesData, type LogEntry, type LogReader } from './format.ts';
import { firstUnwhole, recoverAndDump, recoverErrorOf, replayOrder } from './state-recovery.ts';

export type StoreScreenConfig = {
  readLog: LogReader;
  entries: readonly LogEntry[];
  sectorSize: number;
  /** The store file's extents on the recorded device, in 512-byte sectors (filefrag). */
  extents: readonly FileExtent[];
  storeBytes: number;
  engine: { mode: string; options: EngineOptions };
  rawBytes?: number;
};

/** What every state screened this way says about the filesystem: it was not looked at. */
export const storeScreenFsck = {
  clean: true,
  output: 'not checked on the host: screen: store reads only the store file (the kernel checks)',
};

/**
 * `screen: store`: crash states of a direct-layout engine's store file, read straight out of the
 * recording. On ext4 (data=ordered or writeback) and xfs a zero-filled, synced file's blocks
 * stay where they are and its data never goes through the journal, so a crash state's store is
 * the log's writes to those blocks, nothing more: no image, no e2fsck, no process per state.
 * The engine recovers and dumps in-process on a memory device. The filesystem itself is not
 * checked here: the kernel confirms every failing state and a seeded sample (host-screening.ts).
 * Identical store images are recovered once (same bytes, same dump).
 */
export async function screenStoreStates(
  config: StoreScreenConfig,
  states: readonly StateRequest[],
): Promise<{ reports: StateReport[]; distinct: number }> {
  const base = new Uint8Array(config.storeBytes);
  let baseAt = 0;
  // Which entries write into the store, and the last such entry before each position: a state
  // is fixed by the store writes it applies, so a repeated set needs no image at all.
  // (A misdirected write is a store write: its entry is keyed with its target below.)
  const touches = config.entries.map(
    (e) => writesData(e) && touchesRanges(e, config.extents, config.sectorSize),
  );
  const lastTouchBefore: number[] = [];
  let last = -1;
  for (let i = 0; i <= config.entries.length; i++) {
    lastTouchBefore.push(last);
    if (touches[i]) last = i;
  }
  const byWrites = new Map<string, Omit<StateReport, 'id' | 'ms'>>();
  // Images by their interned pages (exact), each state's built in one scratch buffer: a copy
  // of the store per state, kept for the judge, had cost more than everything else. Engines
  // without an in-memory dump keep the copies (byBytes).
  const mode = getEngineMode(config.engine.mode);
  const { pageSize } = config.engine.options;
  const paged = mode.dumpImage && config.storeBytes % pageSize === 0;
  const pages = new InternedPages(pageSize);
  const byPages = new Map<string, Omit<StateReport, 'id' | 'ms'>>();
  const byBytes = new DistinctBytes<Omit<StateReport, 'id' | 'ms'>>();
  const scratch = new Uint8Array(paged ? config.storeBytes : 0);
  const reports = new Map<string, StateReport>();
  const order = replayOrder(states);
  for (const state of order) {
    const started = performance.now();
    const upTo = firstUnwhole(state);
    const dropped = new Set(state.dropped);
    const applied: string[] = [String(lastTouchBefore[upTo])];
    for (let i = upTo; i < state.at; i++)
      if (touches[i] && !dropped.has(i))
        applied.push(
          state.torn?.entry === i
            ? `${i}/${state.torn.sectors}`
            : state.misdirect?.entry === i
              ? `${i}@${state.misdirect.sector}`
              : String(i),
        );
    const writes = applied.join(',');
    let found = byWrites.get(writes);
    if (!found) {
      applyToStore(config, base, baseAt, upTo);
      baseAt = upTo;
      const image = paged ? scratch : base.slice();
      if (paged) image.set(base);
      applyToStore(config, image, baseAt, state.at, dropped, state);
      // Different write sets can still leave the same bytes: those are recovered once too,
      // and `distinct` counts images, not write sets.
      if (paged) {
        const interned = pages.intern(image);
        found = byPages.get(interned.key);
        if (!found) {
          found = dumpInterned(config, mode, interned.image);
          byPages.set(interned.key, found);
        }
      } else {
        found = byBytes.get(image);
        if (!found) {
          found = await recoverInMemory(config, image);
          byBytes.set(image, found);
        }
      }
      byWrites.set(writes, found);
    }
    reports.set(state.id, { ...found, id: state.id, ms: performance.now() - started });
  }
  return {
    reports: order.map((s) => reports.get(s.id)!),
    distinct: paged ? byPages.size : byBytes.size,
  };
}

/**
 * A state's recover and dump computed on its interned pages (the engine's `dumpImage`, the
 * simulated tier's path): what recover would throw is the recovery error; both raw copies of
 * each page are the interned pages themselves, decoded once however many states share them.
 */
function dumpInterned(
  config: StoreScreenConfig,
  mode: EngineMode,
  image: PageImage,
): Omit<StateReport, 'id' | 'ms'> {
  const { options } = config.engine;
  let report: Pick<StateReport, 'recoverError' | 'dump'>;
  try {
    report = { dump: mode.dumpImage!(image, options) };
  } catch (error) {
    report = { recoverError: recoverErrorOf(error) };
  }
  return {
    ...report,
    ...(config.rawBytes
      ? {
          rawPages: rawPagesOf(image, options.pages),
          decodeRaw: (b: Uint8Array) => image.decode(b),
        }
      : {}),
    type: 'state',
    fsck: storeScreenFsck,
  };
}

/** Applies entries [from, to) to a store image: the part of each write inside the store's extents. */
export function applyToStore(
  config: Pick<StoreScreenConfig, 'readLog' | 'entries' | 'sectorSize' | 'extents'>,
  store: Uint8Array,
  from: number,
  to: number,
  skip: ReadonlySet<number> = new Set(),
  fate: Pick<StateRequest, 'torn' | 'misdirect'> = {},
): void {
  const unit = 512;
  const { torn, misdirect } = fate;
  for (let i = from; i < to; i++) {
    const e = config.entries[i]!;
    if (!writesData(e) || skip.has(e.index)) continue;
    // Device and extents in 512-byte units; the log's sectors may be larger.
    const scale = config.sectorSize / unit;
    const sectors = torn?.entry === e.index ? Math.min(torn.sectors, e.nrSectors) : e.nrSectors;
    const first = (misdirect?.entry === e.index ? misdirect.sector : e.sector) * scale;
    const end = first + sectors * scale;
    for (const x of config.extents) {
      const lo = Math.max(first, x.start);
      const hi = Math.min(end, x.start + x.sectors);
      if (lo >= hi) continue;
      const at = (x.fileSector + lo - x.start) * unit;
      const length = Math.min((hi - lo) * unit, store.length - at);
      if (length <= 0) continue;
      if (e.discard) {
        store.fill(0, at, at + length);
        continue;
      }
      const data = config.readLog(e.dataOffset + (lo - first) * unit, length);
      if (data.length !== length) throw new Error(`log entry ${e.index}: data cut short`);
      store.set(data, at);
    }
  }
}

async function recoverInMemory(
  config: StoreScreenConfig,
  image: Uint8Array,
): Promise<Omit<StateReport, 'id' | 'ms'>> {
  // The engine may write while it recovers: the file copies the image first, so the image
  // stays the state's.
  const ctx = { file: imageFile(image), clock: virtualClock(), options: config.engine.options };
  return {
    ...(await recoverAndDump(config.engine.mode, ctx, undefined)),
    // The image is the state's own and never written (the file copies it first).
    ...(config.rawBytes ? { rawBytes: image.subarray(0, config.rawBytes) } : {}),
    type: 'state',
    fsck: storeScreenFsck,
  };
}
