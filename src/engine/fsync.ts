import type { EngineMode } from './engine.ts';
import { directStoreSize, dumpDirect, PingPongPages, recoverDirect } from './direct-layout.ts';
import { eventEmitter } from './events.ts';

/**
 * fsync: pwrite + fdatasync per write, acknowledged only after fdatasync returned 0; an error
 * fails the op and the engine goes on. Planted bugs: `ack-before-sync` (ack, then sync) and
 * `ignore-eio` (retry fdatasync until it "succeeds", then ack: the fsyncgate pattern).
 */
export const fsyncEngine: EngineMode = {
  name: 'fsync',
  transactional: false,
  storeSize: directStoreSize,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    const bug = ctx.options.bug;
    const pages = await PingPongPages.open(ctx);
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
        if (bug === 'ignore-eio') await syncRetrying(() => ctx.file.fdatasync());
        else await ctx.file.fdatasync();
        pages.synced(op.page, slot);
        events.ok(op.id);
      } catch (error) {
        events.fail(op.id, error);
      }
    }
  },
  recover: recoverDirect,
  dump: dumpDirect,
};

async function syncRetrying(sync: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sync();
    } catch (error) {
      if (attempt >= 100) throw error;
    }
  }
}
