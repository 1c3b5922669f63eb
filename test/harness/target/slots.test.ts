import test from 'ava';
import { defaultJobs, SlotPool } from '../../../src/harness/target/slots.ts';

const GiB = 2 ** 30;

test('defaultJobs: one embedded guest per core as free memory allows; one slot elsewhere', (t) => {
  t.is(defaultJobs('qemu', { cores: 2, freeBytes: 20 * GiB }), 2);
  t.is(defaultJobs('qemu', { cores: 16, freeBytes: 9 * GiB }), 4, 'memory-bound');
  t.is(defaultJobs('qemu', { cores: 8, freeBytes: 1 * GiB }), 1, 'never zero');
  for (const kind of ['ssh', 'vagrant', 'local'] as const)
    t.is(defaultJobs(kind, { cores: 64, freeBytes: 512 * GiB }), 1);
});

test('SlotPool: at most one trial per slot, waiters served first come first served', async (t) => {
  const pool = new SlotPool(['a', 'b']);
  const first = await pool.acquire();
  const second = await pool.acquire();
  t.deepEqual([first.value, second.value].sort(), ['a', 'b']);
  const order: string[] = [];
  const third = pool.acquire().then((s) => (order.push('third'), s));
  const fourth = pool.acquire().then((s) => (order.push('fourth'), s));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(order, [], 'both wait: no slot is free');
  pool.release(second.slot);
  t.is((await third).slot, second.slot);
  pool.release(first.slot);
  t.is((await fourth).slot, first.slot);
  t.deepEqual(order, ['third', 'fourth']);
});

test('SlotPool: a lost slot is never handed out again; when all are lost, waiters fail', async (t) => {
  const pool = new SlotPool(['a', 'b']);
  const a = await pool.acquire();
  const b = await pool.acquire();
  const waiting = pool.acquire();
  pool.release(a.slot, true);
  t.is(pool.alive, 1);
  pool.release(b.slot);
  t.is((await waiting).value, 'b');
  const next = pool.acquire();
  pool.release(b.slot, true);
  await t.throwsAsync(next, { message: /every slot is lost/ });
  await t.throwsAsync(pool.acquire(), { message: /every slot is lost/ });
});
