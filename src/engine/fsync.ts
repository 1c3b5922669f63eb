import type { EngineContext, EngineMode } from './engine.ts';
import { directLayoutStore, PingPongPages } from './direct-layout.ts';
import { eventEmitter } from './events.ts';

/**
 * fsync: pwrite + fdatasync per write, acknowledged only after fdatasync returned 0; an error
 * fails the op and the engine goes on. Planted bugs: `ack-before-sync` (ack, then sync) and
 * `ignore-eio` (swallow an fdatasync EIO and ack the op after a later fdatasync succeeds).
 */
export const fsyncEngine: EngineMode = {
  name: 'fsync',
  transactional: false,
  ...directLayoutStore,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    const bug = ctx.options.bug;
    const pages = await PingPongPages.open(ctx);
    const deferred: number[] = [];
    for await (const op of ops) {
      if (op.op === 'mark') {
        events.mark(op.name, op.id);
        await onMark?.(op.name);
        continue;
      }
      if (op.op !== 'write') continue;
      events.invoke(op.id);
      try {
        const slot = await pages.write(op.page, op.value);
        if (bug === 'ack-before-sync') {
          events.ok(op.id);
          await ctx.file
            .fdatasync()
            .then(() => pages.synced(op.page, slot))
            .catch(() => undefined);
          continue;
        }
        if (bug === 'ignore-eio') {
          await syncIgnoringEio(ctx, op.id, deferred, events.ok);
          pages.synced(op.page, slot);
          continue;
        }
        await ctx.file.fdatasync();
        pages.synced(op.page, slot);
        events.ok(op.id);
      } catch (error) {
        events.fail(op.id, error);
      }
    }
  },
};

/**
 * The planted fsyncgate bug: an fdatasync EIO is swallowed and the op left pending; the next
 * fdatasync that succeeds acknowledges it too — but the kernel dropped the failed pages, so
 * that success says nothing about them (what PostgreSQL's checkpointer did before 2018).
 */
async function syncIgnoringEio(
  ctx: EngineContext,
  id: number,
  deferred: number[],
  ok: (id: number) => void,
): Promise<void> {
  try {
    await ctx.file.fdatasync();
  } catch {
    deferred.push(id);
    return;
  }
  for (const d of deferred.splice(0)) ok(d);
  ok(id);
}
