import test from 'ava';
import { AckGate } from '../../src/engine/ack-gate.ts';
import { virtualClock } from '../../src/engine/clock.ts';
import { fsyncEngine } from '../../src/engine/fsync.ts';
import type { StoreFile } from '../../src/engine/store-file.ts';
import type { EngineEvent } from '../../src/model/history.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';

/** An in-memory file that logs every call, so the test sees what I/O happened when. */
function recordingFile(size: number, calls: string[]): StoreFile {
  const bytes = new Uint8Array(size);
  return {
    size: () => size,
    alloc: (n) => new Uint8Array(n),
    pwrite: async (buf, offset) => (calls.push(`pwrite ${offset}`), bytes.set(buf, offset)),
    pread: async (n, offset) => (calls.push(`pread ${offset}`), bytes.slice(offset, offset + n)),
    fdatasync: async () => void calls.push('fdatasync'),
    close: async () => undefined,
  };
}

async function* ops(list: WorkloadOp[]): AsyncGenerator<WorkloadOp> {
  yield* list;
}

for (const bug of [undefined, 'ack-before-sync'] as const) {
  test(`--pause-at ack: no I/O between an ack and its resume (fsync${bug ? ` !${bug}` : ''})`, async (t) => {
    const calls: string[] = [];
    let release: (() => void) | undefined;
    const gate = new AckGate(() => new Promise<void>((resolve) => (release = resolve)));
    const events: EngineEvent[] = [];
    const callsAtPause: string[][] = [];
    const emit = gate.emitter((e) => {
      events.push(e);
      calls.push(`${e.type}${'id' in e ? ` ${e.id}` : ''}`);
      if (e.type === 'mark' && e.paused) callsAtPause.push([...calls]);
    });
    const file = gate.wrap(recordingFile(1 << 16, calls));
    const run = fsyncEngine.run(
      {
        file,
        clock: virtualClock(),
        options: {
          pageSize: 4096,
          pages: 2,
          writers: 1,
          batchWindowUs: 0,
          batchMaxOps: 1,
          ...(bug ? { bug } : {}),
        },
      },
      ops([
        { op: 'write', id: 1, page: 0, value: 'a' },
        { op: 'write', id: 2, page: 1, value: 'b' },
      ]),
      emit,
    );
    // Let the engine run as far as it can: it must stop right after the first ack.
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    t.is(callsAtPause.length, 1);
    const io = (c: string) => /^(pwrite|pread|fdatasync)/.test(c);
    const afterAck = calls.slice(calls.indexOf('ok 1') + 1);
    t.true(afterAck.includes('mark 1'));
    t.deepEqual(afterAck.filter(io), [], 'no I/O after the first ack');
    // The planted bug acks before its fdatasync: the fdatasync comes only after the resume.
    const before = calls.slice(0, calls.indexOf('ok 1'));
    t.is(before.includes('fdatasync'), bug === undefined);
    release!();
    for (let i = 0; i < 50 && callsAtPause.length < 2; i++)
      await new Promise((r) => setImmediate(r));
    t.is(callsAtPause.length, 2);
    release!();
    await run;
    t.deepEqual(
      events.filter((e) => e.type === 'ok').map((e) => ('id' in e ? e.id : 0)),
      [1, 2],
    );
  });
}
