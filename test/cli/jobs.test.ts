import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// `powercut run --jobs 2` on the embedded target: two guests booted side by side, trials dealt
// to whichever is free, one store and one report.

const scenario = (dir: string, trials: number): string => {
  const file = join(dir, 'jobs.yaml');
  writeFileSync(
    file,
    [
      'engine: { mode: fsync }',
      'workload: { ops: 40, pages: 16 }',
      'fault: { kind: drop_writes, arm: { afterOp: 20 } }',
      'matrix: { fs: [ext4, xfs], mode: [plain, fsync] }',
      `trials: ${trials}`,
      // plain's losses hang on writeback timing (a loaded machine once flushed every page
      // before the arm); these tests are about the slots, so only fsync's promise is judged.
      'expectByMode:',
      '  plain: { lost-ack: any }',
      '  fsync: { lost-ack: none }',
      '',
    ].join('\n'),
  );
  return file;
};

const run = (args: string[]) =>
  execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'run', ...args], {
    reject: false,
    all: true,
  });

type Results = { trials: { id: string; asExpected: boolean }[]; errors: { id: string }[] };
const results = (store: string): Results => {
  const dir = join(store, 'jobs');
  const run = readdirSync(dir).find((e) => e !== 'latest')!;
  return JSON.parse(readFileSync(join(dir, run, 'results.json'), 'utf8')) as Results;
};

test('[vm] --jobs 2 boots two guests, runs trials on both, and writes one store and one report', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-jobs-'));
  const r = await run([
    scenario(dir, 1),
    '--target',
    'qemu',
    '--jobs',
    '2',
    '--seed',
    '3',
    '--store',
    join(dir, 'store'),
    '--no-progress',
  ]);
  t.is(r.exitCode, 0, r.all);
  t.regex(r.all, /^targets: 2 of 2 slots ready/m);
  t.regex(r.all, /on guest 1\)/);
  t.regex(r.all, /on guest 2\)/);
  const stored = results(join(dir, 'store'));
  t.is(stored.trials.length, 4);
  t.true(stored.trials.every((x) => x.asExpected));
  t.regex(r.all, /^4 trials: 4 as expected/m);
});

/** The pids of the qemu processes under `pid` (its watchdog shells' children). */
function qemuUnder(pid: number): number[] {
  const children = (p: number): number[] =>
    readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  const found: number[] = [];
  const walk = (p: number): void => {
    for (const c of children(p)) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').trim().startsWith('qemu-system')) found.push(c);
        walk(c);
      } catch {
        // gone meanwhile
      }
    }
  };
  walk(pid);
  return found;
}

test('[vm] a guest that dies mid-run: its trial is a harness error (exit 3), the rest run on the other guest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-jobs-'));
  const child = run([
    scenario(dir, 2),
    '--target',
    'qemu',
    '--jobs',
    '2',
    '--seed',
    '5',
    '--store',
    join(dir, 'store'),
    '--no-progress',
  ]);
  let killed = false;
  child.all!.on('data', (chunk: Buffer) => {
    // Once trials are running on both guests, pull the power on one of them.
    if (!killed && /trial\(s\) →/.test(chunk.toString())) {
      killed = true;
      setTimeout(() => {
        const qemus = qemuUnder(child.pid!);
        t.is(qemus.length, 2, 'two guests');
        process.kill(qemus[1]!, 'SIGKILL');
      }, 8000);
    }
  });
  const r = await child;
  t.true(killed);
  t.is(r.exitCode, 3, r.all);
  t.regex(r.all, /^slot \d \(qemu tcg on .*\) is gone: the next trials go to the others$/m);
  const stored = results(join(dir, 'store'));
  // Every planned trial is accounted for: a verdict, or a harness error for the lost guest's.
  t.is(stored.trials.length + stored.errors.length, 8);
  t.true(stored.errors.length >= 1);
  t.true(stored.trials.length >= 6, `${stored.trials.length} trials ran on the guest left`);
  t.true(stored.trials.every((x) => x.asExpected));
});
