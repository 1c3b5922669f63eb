import type { DumpEntry } from '../model/history.ts';
import { type PageReads, readFromFile, readFromImage } from './page-image.ts';
import type { EngineContext, EngineMode, EngineOptions } from './engine.ts';
import { eventEmitter } from './events.ts';
import { decodeSlotted, encodeSlotted, type SlottedPage } from './slotted/page.ts';

/**
 * slotted (seed item 2): many variable-length records per page, up to 16 keys, behind a slot
 * directory; a protocol "page" is a key, kept on physical page 1 + ⌊key / 16⌋. Every write is a
 * read-modify-write of its whole page in place, then fdatasync, then the ack.
 *
 * protection (EngineOptions.protection):
 * - `none`: the page is overwritten in place. A write torn by a power cut leaves a page whose
 *   checksum fails: every record on it is lost, also those acknowledged long before and never
 *   written again (collateral loss).
 * - `doublewrite` (InnoDB's doublewrite buffer): the page image is first written to a slot of
 *   its own (physical page 0) and synced, then in place. Recovery finds a torn page by its
 *   checksum and restores it from that copy; a torn copy is ignored, since the page in place was
 *   not touched yet. Costs a second write and sync per update.
 */
export const keysPerPage = 16;
const doublewriteSlot = 0;

const dataPages = (o: EngineOptions): number => Math.ceil(o.pages / keysPerPage);
export const physicalPageOf = (key: number): number => 1 + Math.floor(key / keysPerPage);

class SlottedStore {
  private readonly images = new Map<number, SlottedPage>();
  private lsn = 0n;

  constructor(private readonly ctx: EngineContext) {}

  /** Learns every page's records (and the highest lsn) from the store. */
  async load(): Promise<void> {
    for (let p = 1; p <= dataPages(this.ctx.options); p++) {
      const d = decodeSlotted(await this.read(p));
      if (d.state === 'ok') {
        this.images.set(p, d.page);
        if (d.page.lsn > this.lsn) this.lsn = d.page.lsn;
      }
    }
  }

  /** Writes the page holding `key` with its new value; resolves once it is durable. */
  async put(key: number, value: string): Promise<void> {
    const p = physicalPageOf(key);
    const records = new Map(this.images.get(p)?.records);
    records.set(key, value);
    const image: SlottedPage = { page: p, lsn: ++this.lsn, records };
    const { file, options } = this.ctx;
    const bytes = encodeSlotted(file.alloc(options.pageSize), image);
    if (options.protection === 'doublewrite') {
      await file.pwrite(bytes, doublewriteSlot * options.pageSize);
      await file.fdatasync();
    }
    await file.pwrite(bytes, p * options.pageSize);
    await file.fdatasync();
    // Only a durable image becomes the base of the page's next write.
    this.images.set(p, image);
  }

  read(p: number): Promise<Uint8Array> {
    return this.ctx.file.pread(this.ctx.options.pageSize, p * this.ctx.options.pageSize);
  }
}

export const slottedEngine: EngineMode = {
  name: 'slotted',
  transactional: false,
  directLayout: false,
  storeSize: (o) => (1 + dataPages(o)) * o.pageSize,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    const store = new SlottedStore(ctx);
    await store.load();
    for await (const op of ops) {
      if (op.op === 'mark') {
        events.mark(op.name, op.id);
        await onMark?.(op.name);
        continue;
      }
      if (op.op !== 'write') continue;
      events.invoke(op.id);
      try {
        await store.put(op.page, op.value);
        events.ok(op.id);
      } catch (error) {
        events.fail(op.id, error);
      }
    }
  },
  async recover(ctx) {
    const { file, options } = ctx;
    const restore = await readFromFile(restoreReads(options), file, options.pageSize);
    if (!restore) return;
    await file.pwrite(
      encodeSlotted(file.alloc(options.pageSize), restore),
      restore.page * options.pageSize,
    );
    await file.fdatasync();
  },
  dump: (ctx) => readFromFile(dumpReads(ctx.options), ctx.file, ctx.options.pageSize),
  dumpImage(image, options) {
    const restore = readFromImage(restoreReads(options), image);
    if (!restore) return readFromImage(dumpReads(options), image);
    // Recovery's one write, made in memory: the page as recovery writes it, read back.
    const restored = encodeSlotted(new Uint8Array(options.pageSize), restore);
    const page = (i: number): Uint8Array => (i === restore.page ? restored : image.page(i));
    return readFromImage(dumpReads(options), { ...image, page });
  },
};

/**
 * What recovery restores (doublewrite only): the copy's image when its page in place is torn or
 * older (the crash came before that write), else nothing. A torn copy is ignored, since the
 * page in place was not touched yet.
 */
function* restoreReads(options: EngineOptions): PageReads<SlottedPage | undefined> {
  if (options.protection !== 'doublewrite') return undefined;
  const copy = decodeSlotted(yield doublewriteSlot);
  if (copy.state !== 'ok') return undefined; // torn or never written
  const target = copy.page.page;
  if (target < 1 || target > dataPages(options)) return undefined;
  const inPlace = decodeSlotted(yield target);
  if (inPlace.state === 'ok' && inPlace.page.lsn >= copy.page.lsn) return undefined;
  return copy.page;
}

/** One entry per key, read from the physical page that holds it. */
function* dumpReads(options: EngineOptions): PageReads<DumpEntry[]> {
  const pages = new Map<number, ReturnType<typeof decodeSlotted>>();
  const entries: DumpEntry[] = [];
  for (let key = 0; key < options.pages; key++) {
    const p = physicalPageOf(key);
    if (!pages.has(p)) pages.set(p, decodeSlotted(yield p));
    const d = pages.get(p)!;
    // `physical` tells the checker which keys share a page (to name the write that tore it).
    if (d.state === 'corrupt') entries.push({ page: key, error: 'checksum', physical: p });
    else
      entries.push({
        page: key,
        value: d.state === 'ok' ? (d.page.records.get(key) ?? null) : null,
        physical: p,
      });
  }
  return entries;
}
