import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptWorkers } from '../../src/logwrites/script-workers.ts';
import { alive } from '../process-alive.ts';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'powercut-script-workers-'));

test('each run gets its arguments (fixed ones first), may end early with return, and runs in a long-lived shell', async (t) => {
  const dir = scratch();
  const workers = startScriptWorkers(
    'echo "$1 $2 $$" >"$3"; [ "$2" = stop ] && return 0; echo more >>"$3"',
    1,
    ['fixed'],
  );
  try {
    await workers.run(['go', join(dir, 'a')]);
    t.is(await workers.run(['stop', join(dir, 'b')]), 0, 'the status return gave');
    const [a1, a2] = readFileSync(join(dir, 'a'), 'utf8').trim().split('\n');
    const b = readFileSync(join(dir, 'b'), 'utf8').trim().split('\n');
    t.regex(a1!, /^fixed go \d+$/);
    t.is(a2, 'more');
    t.is(b.length, 1, 'return ended the run early');
    // The same shell ran both: no process per run.
    t.is(a1!.split(' ')[2], b[0]!.split(' ')[2]);
  } finally {
    workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runs side by side go to different workers; close ends them', async (t) => {
  const dir = scratch();
  // Each run waits until all three have started, so they must be in three shells at once.
  const workers = startScriptWorkers(
    'echo $$ >"$1/pid-$2"; while [ "$(ls "$1" | wc -l)" -lt 3 ]; do sleep 0.05; done',
    3,
  );
  const pids: number[] = [];
  try {
    await Promise.all(['1', '2', '3'].map((n) => workers.run([dir, n])));
    for (const n of [1, 2, 3]) pids.push(Number(readFileSync(join(dir, `pid-${n}`), 'utf8')));
    t.is(new Set(pids).size, 3);
    t.true(pids.every(alive));
  } finally {
    workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
  for (let i = 0; i < 100 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  t.false(pids.some(alive), 'every worker ended once its stdin closed');
});

test('a worker that dies fails its run with how it ended; the others still run', async (t) => {
  const dir = scratch();
  const workers = startScriptWorkers('[ "$1" = die ] && exit 3; echo ok >"$2"', 2);
  try {
    const error = await t.throwsAsync(workers.run(['die', join(dir, 'x')]));
    t.regex(error!.message, /script worker ended \(exit 3\)/);
    t.is(await workers.run(['live', join(dir, 'y')]), 0);
    t.is(readFileSync(join(dir, 'y'), 'utf8'), 'ok\n');
  } finally {
    workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a run resolves with the script's exit status", async (t) => {
  const workers = startScriptWorkers('return "$1"', 1);
  try {
    t.deepEqual(await Promise.all(['0', '1', '7'].map((n) => workers.run([n]))), [0, 1, 7]);
  } finally {
    workers.close();
  }
});

test('an argument that is empty or holds a tab or a newline is refused before anything runs', (t) => {
  const workers = startScriptWorkers('true', 1);
  try {
    for (const bad of ['', 'a\tb', 'a\nb'])
      t.throws(() => workers.run([bad]), {
        message: /argument .* is empty or has a tab or newline/,
      });
  } finally {
    workers.close();
  }
});
