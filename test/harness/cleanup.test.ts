import test from 'ava';
import { pendingCleanups, registerCleanup, runCleanup } from '../../src/harness/cleanup.ts';

// The process-wide undo list that SIGINT/SIGTERM runs (serial: it is one list per process).

test.serial(
  'steps run newest first, a failing one is logged and the rest still run, each once',
  async (t) => {
    const ran: string[] = [];
    const logged: string[] = [];
    registerCleanup('loop', async () => void ran.push('loop'));
    registerCleanup('table', async () => {
      ran.push('table');
      throw new Error('device busy');
    });
    registerCleanup('mount', async () => void ran.push('mount'));
    await Promise.all([runCleanup((l) => logged.push(l)), runCleanup((l) => logged.push(l))]);
    t.deepEqual(ran, ['mount', 'table', 'loop']);
    t.deepEqual(logged, ['cleanup: table failed: device busy']);
    t.deepEqual(pendingCleanups(), []);
  },
);

test.serial('a step its owner undid itself is taken off the list', async (t) => {
  const ran: string[] = [];
  const undone = registerCleanup('engine', async () => void ran.push('engine'));
  registerCleanup('device', async () => void ran.push('device'));
  undone();
  t.deepEqual(pendingCleanups(), ['device']);
  await runCleanup(() => undefined);
  t.deepEqual(ran, ['device']);
});
