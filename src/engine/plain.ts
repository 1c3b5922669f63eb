import type { EngineMode } from './engine.ts';
import { directLayoutStore, PingPongPages } from './direct-layout.ts';
import { eventEmitter } from './events.ts';

/** plain: pwrite and acknowledge at once, never sync. Expected to lose acknowledged data. */
export const plainEngine: EngineMode = {
  name: 'plain',
  transactional: false,
  ...directLayoutStore,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    const pages = await PingPongPages.open(ctx);
    for await (const op of ops) {
      if (op.op === 'mark') {
        events.mark(op.name, op.id);
        await onMark?.(op.name);
      } else if (op.op === 'write') {
        events.invoke(op.id);
        try {
          await pages.write(op.page, op.value);
          events.ok(op.id);
        } catch (error) {
          events.fail(op.id, error);
        }
      }
    }
  },
};
