import type { DumpEntry } from '../model/history.ts';
import type { EngineContext, EngineMode, EngineOptions } from './engine.ts';
import { eventEmitter } from './events.ts';
import { PageAllocator } from './cow/allocator.ts';
import {
  cowPhysicalPages,
  decodeMeta,
  encodeMap,
  encodeMeta,
  entriesPerMap,
  mapPageCount,
  META_SLOTS,
  tableReads,
  type Meta,
} from './cow/layout.ts';
import {
  type DataPage,
  type DecodedPage,
  decodePage,
  encodePageInto,
  encodeValue,
  PageKind,
  readDataPage,
} from './page-format.ts';
import { type PageReads, readFromFile, readFromImage } from './page-image.ts';

type State = { meta: Meta; table: Uint32Array };

/**
 * cow: LMDB-style commits. Never overwrites a page reachable from the committed root: a commit
 * writes new data pages and new map pages, fdatasyncs, then writes the alternate meta slot
 * (txn id + map pages, checksummed), fdatasyncs again, and acks. Recovery picks the valid meta
 * with the highest txn id. Layout: src/engine/cow/layout.ts; page reuse: cow/allocator.ts.
 * Planted bugs: `cow-meta-before-data-sync`, `cow-overwrite-live`, `no-checksum`.
 */
export const cowEngine: EngineMode = {
  name: 'cow',
  transactional: true,
  directLayout: false,
  storeSize: (o) => cowPhysicalPages(o) * o.pageSize,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    let state = await loadState(ctx, true);
    const alloc = new PageAllocator(META_SLOTS, cowPhysicalPages(ctx.options), livePages(state));
    let pending = new Map<number, string>();
    for await (const op of ops) {
      if (op.op === 'write') {
        events.invoke(op.id);
        pending.set(op.page, op.value);
      } else if (op.op === 'mark') {
        events.mark(op.name, op.id);
        await onMark?.(op.name);
      } else {
        events.invoke(op.id);
        try {
          state = await commit(ctx, state, pending, alloc, () => onMarkWith(events.mark, onMark));
          events.ok(op.id);
        } catch (error) {
          events.fail(op.id, error);
        }
        pending = new Map();
      }
    }
  },
  async recover(ctx) {
    await loadState(ctx, ctx.options.bug !== 'no-checksum');
  },
  dump: (ctx) => readFromFile(dumpReads(ctx.options), ctx.file, ctx.options.pageSize),
  // Recovery only reads (it finds the newest valid meta), and the dump finds it again.
  dumpImage: (image, options) =>
    readFromImage(dumpReads(options, image.decode, image.readData), image),
};

async function onMarkWith(
  mark: (name: string) => void,
  onMark: ((name: string) => Promise<void>) | undefined,
): Promise<void> {
  mark('cow:before-meta');
  await onMark?.('cow:before-meta');
}

/** Writes one transaction; returns the new committed state, or throws leaving `state` current. */
async function commit(
  ctx: EngineContext,
  state: State,
  writes: Map<number, string>,
  alloc: PageAllocator,
  beforeMeta: () => Promise<void>,
): Promise<State> {
  const { file, options } = ctx;
  const txn = state.meta.txn + 1;
  const table = state.table.slice();
  const allocated: number[] = [];
  const replaced: number[] = [];
  try {
    for (const [page, value] of writes) {
      const old = table[page] ?? 0;
      const inPlace = options.bug === 'cow-overwrite-live' && old !== 0;
      const phys = inPlace ? old : alloc.allocate();
      if (!inPlace) {
        allocated.push(phys);
        if (old !== 0) replaced.push(old);
      }
      table[page] = phys;
      const buf = encodePageInto(
        file.alloc(options.pageSize),
        { kind: PageKind.data, page, seq: BigInt(txn), length: 0 },
        encodeValue(value),
      );
      await file.pwrite(buf, phys * options.pageSize);
    }
    const per = entriesPerMap(options.pageSize);
    const maps: number[] = [];
    for (let i = 0; i < mapPageCount(options); i++) {
      const phys = alloc.allocate();
      allocated.push(phys);
      maps.push(phys);
      await file.pwrite(
        encodeMap(file.alloc(options.pageSize), txn, i, table.slice(i * per, (i + 1) * per)),
        phys * options.pageSize,
      );
    }
    const meta: Meta = { txn, pages: options.pages, maps };
    const metaPage = encodeMeta(file.alloc(options.pageSize), txn % 2, meta);
    if (options.bug === 'cow-meta-before-data-sync') {
      await file.pwrite(metaPage, (txn % 2) * options.pageSize);
      await beforeMeta();
      await file.fdatasync();
    } else {
      await file.fdatasync();
      await beforeMeta();
      await file.pwrite(metaPage, (txn % 2) * options.pageSize);
      await file.fdatasync();
    }
    alloc.release([...replaced, ...state.meta.maps]);
    alloc.commitDurable();
    return { meta, table };
  } catch (error) {
    // Not durable: the failed meta may still be on disk until the next commit rewrites its
    // slot, so the pages it names are reusable only after that commit.
    alloc.release(allocated);
    throw error;
  }
}

/** The committed state: the valid meta with the highest txn (an all-empty store is txn 0). */
async function loadState(ctx: EngineContext, verify: boolean): Promise<State> {
  return readFromFile(loadStateReads(ctx.options, verify), ctx.file, ctx.options.pageSize);
}

function* loadStateReads(
  options: EngineOptions,
  verify: boolean,
  decode: (bytes: Uint8Array) => DecodedPage = decodePage,
): PageReads<State> {
  const metas: Meta[] = [];
  let emptySlot = false;
  for (let slot = 0; slot < META_SLOTS; slot++) {
    const bytes = yield slot;
    const meta = decodeMeta(bytes, slot, verify, decode);
    if (!meta && decode(bytes).state === 'empty') emptySlot = true;
    if (meta && meta.pages === options.pages && meta.maps.length === mapPageCount(options))
      metas.push(meta);
  }
  metas.sort((a, b) => b.txn - a.txn);
  for (const meta of metas) {
    const table = yield* tableReads(options, meta, verify, decode);
    if (table) return { meta, table };
  }
  // An empty slot stands for txn 0 (the empty database): the first commit's meta may be torn.
  if (!emptySlot) throw new Error('no valid meta page: both meta slots are torn or corrupt');
  return {
    meta: { txn: 0, pages: options.pages, maps: [] },
    table: new Uint32Array(options.pages),
  };
}

/** One entry per logical page, read where the committed table maps it. */
function* dumpReads(
  options: EngineOptions,
  decode: (bytes: Uint8Array) => DecodedPage = decodePage,
  read: (bytes: Uint8Array, page: number, verify: boolean) => DataPage = (b, page, verify) =>
    readDataPage(b, page, verify, decode),
): PageReads<DumpEntry[]> {
  const verify = options.bug !== 'no-checksum';
  const { table } = yield* loadStateReads(options, verify, decode);
  const entries: DumpEntry[] = [];
  for (let page = 0; page < options.pages; page++) {
    const phys = table[page] ?? 0;
    if (phys === 0) entries.push({ page, value: null });
    else entries.push(dumpEntry(page, read(yield phys, page, verify)));
  }
  return entries;
}

function livePages(state: State): number[] {
  return [...state.meta.maps, ...Array.from(state.table).filter((p) => p !== 0)];
}

function dumpEntry(page: number, d: DataPage): DumpEntry {
  // A mapped page that reads as empty was never written where the map says: damage.
  if (d.state === 'value') return { page, value: d.value };
  return { page, error: d.state === 'error' ? d.error : 'checksum' };
}
