import test from 'ava';
import { virtualClock } from '../../src/engine/clock.ts';
import { batchLimitOf, groupCommitEngine } from '../../src/engine/group-commit.ts';
import type { WorkloadOp, WriteOp } from '../../src/model/workload.ts';
import { readDataPage } from '../../src/engine/page-format.ts';
import type { PageWrite, StoreFile } from '../../src/engine/store-file.ts';
import { SimDevice } from '../../src/sim/sim-device.ts';
import { runSimTrial } from '../../src/sim/sim-trial.ts';
import { assertNoAnomaly, findCounterexample, options, withBug } from './sim-helpers.ts';

for (const writers of [1, 4, 16]) {
  test(`group-commit, ${writers} writer(s): zero lost-ack over ≥1,000 distinct simulated crash states`, async (t) => {
    const states = await assertNoAnomaly(
      { mode: groupCommitEngine, options: options({ writers, batchMaxOps: 6 }) },
      ['lost-ack', 'phantom', 'torn-undetected'],
      { distinctStates: 1000, maxRuns: 800 },
    );
    t.log(`${states} distinct crash states checked`);
    t.true(states >= 1000, `${states} distinct crash states`);
  });
}

test('group-commit fails a whole batch on EIO and acknowledges none of it', async (t) => {
  const states = await assertNoAnomaly(
    {
      mode: groupCommitEngine,
      options: options({ writers: 4 }),
      fault: { kind: 'error_writes', atIo: 2, untilIo: 10 },
    },
    ['ack-after-eio', 'lost-ack'],
    { distinctStates: 300, maxRuns: 600 },
  );
  t.true(states >= 300, `${states} distinct crash states`);
});

test('planted bug group-ack-before-sync is caught, with a shrunk counterexample', async (t) => {
  const found = await findCounterexample(
    { mode: groupCommitEngine, options: withBug(options({ writers: 4 }), 'group-ack-before-sync') },
    ['lost-ack'],
  );
  t.truthy(found, 'fast-check must find the bug');
  t.log(
    `shrunk to ${found!.writes} write(s), cut after ${found!.cut} I/Os: ${JSON.stringify(found!.ops)}`,
  );
  t.log(found!.anomalies[0]!.message);
  // Shrinking moves the workload and the cut apart, so it can stop at a local minimum: with
  // batches of half the writers it stops at 5 writes (3 with one batch of every writer).
  t.true(found!.writes <= 5);
});

test('planted bug group-ack-before-sync: one write, cut between its ack and its fdatasync, is lost-ack', async (t) => {
  const r = await runSimTrial({
    mode: groupCommitEngine,
    options: withBug(options({ writers: 4 }), 'group-ack-before-sync'),
    ops: [{ op: 'write', id: 1, page: 0, value: 'w1-000001' }],
    cutAtIo: 1, // the pwrite was I/O 0; the fdatasync, never made, would have been I/O 1
    crashStates: 20,
    seed: 0,
    tear: true,
  });
  const events = r.states[0]!.history.events.map((e) => e.type);
  t.true(events.includes('ok'), 'acknowledged before the crash');
  t.true(
    r.states.some((s) => s.verdict.anomalies.some((a) => a.kind === 'lost-ack')),
    'a crash state that dropped the unsynced write',
  );
  // The correct engine acks only after the sync: at the same cut nothing was acknowledged.
  const correct = await runSimTrial({
    mode: groupCommitEngine,
    options: options({ writers: 4 }),
    ops: [{ op: 'write', id: 1, page: 0, value: 'w1-000001' }],
    cutAtIo: 1,
    crashStates: 20,
    seed: 0,
    tear: true,
  });
  t.false(correct.states[0]!.history.events.some((e) => e.type === 'ok'));
  t.true(correct.states.every((s) => s.verdict.valid));
});

/** Runs 16 writes to distinct pages through `writers` writers; returns how many fdatasyncs it took. */
async function syncsFor(writers: number, batchWindowUs: number): Promise<number> {
  const opts = options({ writers, batchWindowUs, batchMaxOps: 64, pages: 16 });
  const device = new SimDevice({ size: groupCommitEngine.storeSize(opts) });
  const ops: WorkloadOp[] = Array.from({ length: 16 }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: i,
    value: `w${i + 1}`,
  }));
  async function* input(): AsyncGenerator<WorkloadOp> {
    yield* ops;
  }
  let acks = 0;
  await groupCommitEngine.run(
    { file: device.file(), clock: virtualClock(), options: opts },
    input(),
    (e) => {
      if (e.type === 'ok') acks++;
    },
  );
  if (acks !== 16) throw new Error(`expected 16 acks, got ${acks}`);
  return device.syncs;
}

test('a batch waits, up to its window, for its half of the writers: 4 writers sync once per 2 writes', async (t) => {
  t.is(await syncsFor(4, 1000), 8);
  t.is(await syncsFor(16, 1000), 2);
  t.is(await syncsFor(1, 1000), 16);
  // With no window a batch holds only the writes already queued when the committer looks.
  t.true((await syncsFor(4, 0)) > 8);
});

test('a batch holds at most half the writers (two in flight), at most batchMaxOps, at least one', (t) => {
  t.is(batchLimitOf(1, 64), 1);
  t.is(batchLimitOf(4, 64), 2);
  t.is(batchLimitOf(5, 64), 3);
  t.is(batchLimitOf(64, 64), 32);
  t.is(batchLimitOf(256, 64), 64);
  t.is(batchLimitOf(64, 8), 8);
});

/**
 * A store whose fdatasyncs finish only when the test says so, logging every write (by page and
 * value), every sync call and every sync's end.
 */
function heldSyncStore(size: number, pageSize: number) {
  const bytes = new Uint8Array(size);
  const log: (
    | { at: 'write'; page: number; value: string }
    | { at: 'sync'; id: number }
    | { at: 'synced'; id: number }
  )[] = [];
  const held: (() => void)[] = [];
  let syncs = 0;
  const write = ({ buf, offset }: PageWrite): void => {
    bytes.set(buf, offset);
    const page = Math.floor(offset / pageSize / 2);
    const d = readDataPage(buf, page, true);
    log.push({ at: 'write', page, value: d.state === 'value' ? d.value : `<${d.state}>` });
  };
  const file: StoreFile = {
    size: () => size,
    alloc: (n) => new Uint8Array(n),
    pwrite: async (buf, offset) => write({ buf, offset }),
    pwriteMany: async (writes) => writes.forEach(write),
    pread: async (n, offset) => bytes.slice(offset, offset + n),
    fdatasync: () =>
      new Promise<void>((resolve) => {
        const id = ++syncs;
        log.push({ at: 'sync', id });
        held.push(() => {
          log.push({ at: 'synced', id });
          resolve();
        });
      }),
    close: async () => undefined,
  };
  return { file, log, held };
}

test('the next batch is written while the previous one syncs, never onto a page still syncing; each ack follows a finished sync of its write', async (t) => {
  const opts = options({ writers: 8, batchWindowUs: 0, batchMaxOps: 64, pages: 6 });
  const store = heldSyncStore(groupCommitEngine.storeSize(opts), opts.pageSize);
  // 48 writes over 6 pages: batches keep meeting pages that are still syncing.
  const ops: WorkloadOp[] = Array.from({ length: 48 }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: (i * 5) % 6,
    value: `w${i + 1}`,
  }));
  async function* input(): AsyncGenerator<WorkloadOp> {
    yield* ops;
  }
  const acks: { id: number; logAt: number }[] = [];
  let finished = false;
  const run = groupCommitEngine
    .run({ file: store.file, clock: virtualClock(), options: opts }, input(), (e) => {
      if (e.type === 'ok') acks.push({ id: e.id, logAt: store.log.length });
    })
    .finally(() => (finished = true));
  // Finish the oldest held sync a few event-loop turns after it was made, so the committer can
  // write the next batch meanwhile.
  while (!finished) {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    store.held.shift()?.();
  }
  await run;

  t.is(acks.length, 48, 'every write acknowledged');
  const syncing = new Map<number, Set<number>>(); // sync id → pages it is making durable
  let unsynced = new Set<number>();
  let overlapped = 0;
  store.log.forEach((entry) => {
    if (entry.at === 'write') {
      for (const [id, pages] of syncing)
        t.false(pages.has(entry.page), `page ${entry.page} written while sync ${id} holds it`);
      if (syncing.size > 0) overlapped++;
      unsynced.add(entry.page);
    } else if (entry.at === 'sync') {
      syncing.set(entry.id, unsynced);
      unsynced = new Set();
    } else syncing.delete(entry.id);
  });
  t.true(overlapped > 0, 'some batch was written while an earlier one was syncing');
  for (const { id, logAt } of acks) {
    const op = ops[id - 1] as WriteOp;
    const writtenAt = store.log.findIndex(
      (e) => e.at === 'write' && e.page === op.page && e.value === op.value,
    );
    t.true(writtenAt >= 0, `write ${id} reached the store`);
    const covered = store.log
      .slice(writtenAt, logAt)
      .some(
        (e, i, seen) =>
          e.at === 'synced' && seen.slice(0, i).some((s) => s.at === 'sync' && s.id === e.id),
      );
    t.true(covered, `write ${id} acknowledged only after a sync made after it finished`);
  }
});
