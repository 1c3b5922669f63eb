import type { WorkloadOp, WriteOp } from '../model/workload.ts';
import type { EngineContext, EngineMode } from './engine.ts';
import { directStoreSize, dumpDirect, PingPongPages, recoverDirect } from './direct-layout.ts';
import { eventEmitter } from './events.ts';

type Pending = { op: WriteOp; done: (error?: unknown) => void };

/**
 * group-commit: `writers` concurrent writers each take the next op and wait for its ack; one
 * committer closes a batch when `batchWindowUs` passed since its first write, when it has
 * `batchMaxOps` writes, or when every writer that still has input is waiting in it (nobody else
 * can join). Writers between ops (just acked, reading their next op) count as joinable: closing
 * without them halved batches at 4 writers. It pwrites the batch (all writes at once),
 * fdatasyncs once, then acks (or fails) every member.
 * Planted bug `group-ack-before-sync`: acks the batch, then syncs.
 */
export const groupCommitEngine: EngineMode = {
  name: 'group-commit',
  transactional: false,
  directLayout: true,
  storeSize: directStoreSize,
  async run(ctx, ops, emit, onMark) {
    const events = eventEmitter(emit, ctx.clock);
    const queue: Pending[] = [];
    // Writers that have not yet seen the end of the input: each may still join the open batch.
    let liveWriters = Math.max(1, ctx.options.writers);
    let inputDone = false;
    let wakeCommitter: (() => void) | undefined;
    const wake = (): void => {
      wakeCommitter?.();
      wakeCommitter = undefined;
    };

    const iterator = ops[Symbol.asyncIterator]();
    let reading: Promise<IteratorResult<WorkloadOp>> = Promise.resolve({
      done: false,
      value: undefined as never,
    });
    // Writers share one input; reads are chained so each op goes to exactly one writer.
    const nextOp = (): Promise<IteratorResult<WorkloadOp>> =>
      (reading = reading.then(() => iterator.next()));

    const writer = async (): Promise<void> => {
      for (;;) {
        const next = await nextOp();
        if (next.done) {
          liveWriters--;
          wake(); // the open batch may now hold every live writer
          return;
        }
        const op = next.value;
        if (op.op === 'mark') {
          events.mark(op.name, op.id);
          await onMark?.(op.name);
          continue;
        }
        if (op.op !== 'write') continue;
        events.invoke(op.id);
        const error = await new Promise<unknown>((resolve) => {
          queue.push({ op, done: resolve });
          wake();
        });
        if (error === undefined) events.ok(op.id);
        else events.fail(op.id, error);
      }
    };

    const pages = await PingPongPages.open(ctx);
    const committer = async (): Promise<void> => {
      for (;;) {
        if (queue.length === 0) {
          if (inputDone) return;
          await new Promise<void>((resolve) => (wakeCommitter = resolve));
          continue;
        }
        await fillBatch(
          ctx,
          queue,
          () => liveWriters,
          () => new Promise<void>((resolve) => (wakeCommitter = resolve)),
        );
        const batch = queue.splice(0, ctx.options.batchMaxOps);
        await commitBatch(ctx, pages, batch, events.mark, onMark);
      }
    };

    const running = committer();
    await Promise.all(Array.from({ length: Math.max(1, ctx.options.writers) }, writer));
    inputDone = true;
    wake();
    await running;
  },
  recover: recoverDirect,
  dump: dumpDirect,
};

/**
 * Waits until the batch should close: window elapsed, size limit, or every live writer queued.
 * It wakes on each queued write (not by polling: a timer's 1 ms granularity would make every
 * batch wait a whole millisecond).
 */
async function fillBatch(
  ctx: EngineContext,
  queue: Pending[],
  live: () => number,
  nextChange: () => Promise<void>,
): Promise<void> {
  const full = (): boolean => queue.length >= ctx.options.batchMaxOps || queue.length >= live();
  if (ctx.options.batchWindowUs <= 0 || full()) return;
  let open = true;
  const window = ctx.clock.sleepUs(ctx.options.batchWindowUs).then(() => {
    open = false;
  });
  while (open && !full()) await Promise.race([window, nextChange()]);
}

async function commitBatch(
  ctx: EngineContext,
  pages: PingPongPages,
  batch: Pending[],
  mark: (name: string) => void,
  onMark: ((name: string) => Promise<void>) | undefined,
): Promise<void> {
  try {
    // One write per page per batch (the last one): a second write would land on the slot
    // holding the durable version and could tear it.
    const last = new Map<number, string>();
    for (const p of batch) last.set(p.op.page, p.op.value);
    // The batch's writes all at once (the thread pool runs them side by side; one after
    // another they cost ~100 µs each and capped the batch's speed-up). Every write has landed
    // or failed before the batch goes on: none can still be in flight under the next batch.
    const written = new Map<number, 0 | 1>();
    const landed = await Promise.allSettled(
      [...last].map(async ([page, value]) => written.set(page, await pages.write(page, value))),
    );
    const failed = landed.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    mark('group:before-sync');
    await onMark?.('group:before-sync');
    const synced = (): void => {
      for (const [page, slot] of written) pages.synced(page, slot);
    };
    if (ctx.options.bug === 'group-ack-before-sync') {
      for (const p of batch) p.done();
      await ctx.clock.sleepUs(0); // the acks reach the writers (and their clients) first
      await ctx.file
        .fdatasync()
        .then(synced)
        .catch(() => undefined);
      return;
    }
    await ctx.file.fdatasync();
    synced();
    for (const p of batch) p.done();
  } catch (error) {
    for (const p of batch) p.done(error);
  }
}
