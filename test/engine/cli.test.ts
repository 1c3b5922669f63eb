import test from 'ava';
import { engineCliArgs, runEngineCli, scratchDir } from './engine-cli.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseInputLine } from '../../src/engine/protocol.ts';

const dir = scratchDir(test, 'cli');
const engine = runEngineCli;
const lines = (s: string) =>
  s
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const workload = [
  { op: 'write', id: 1, page: 3, value: 'w1' },
  { op: 'write', id: 2, page: 0, value: 'w2' },
  { op: 'commit', id: 3 },
  { op: 'write', id: 4, page: 3, value: 'w4' },
  { op: 'commit', id: 5 },
]
  .map((o) => JSON.stringify(o))
  .join('\n');

for (const mode of ['plain', 'fsync', 'group-commit', 'cow']) {
  test(`${mode}: run, recover, dump through the protocol on a real file`, async (t) => {
    const store = join(dir, `${mode}.db`);
    writeFileSync(store, Buffer.alloc(1 << 20));
    const run = await engine(
      [mode, 'run', '--store', store, '--pages', '8', '--writers', '2'],
      workload,
    );
    t.is(run.exitCode, 0, run.stderr);
    const events = lines(run.stdout);
    t.true(events.every((e) => typeof e.t === 'number'));
    const acked = events.filter((e) => e.type === 'ok').map((e) => e.id);
    t.deepEqual(acked.sort(), mode === 'cow' ? [3, 5] : [1, 2, 4]);
    t.is((await engine([mode, 'recover', '--store', store, '--pages', '8'])).exitCode, 0);
    const dump = await engine([mode, 'dump', '--store', store, '--pages', '8']);
    const pages = lines(dump.stdout);
    t.is(pages.length, 8);
    t.deepEqual(pages[3], { page: 3, value: 'w4' });
    t.deepEqual(pages[0], { page: 0, value: 'w2' });
    t.deepEqual(pages[1], { page: 1, value: null });
    // One process for both (what the harness runs for built-ins): the same dump.
    const both = await engine([mode, 'recover', '--store', store, '--pages', '8', '--then-dump']);
    t.is(both.exitCode, 0);
    t.deepEqual(lines(both.stdout), pages);
  });
}

test('a bad input line exits 2 naming the line and field', async (t) => {
  const store = join(dir, 'bad.db');
  writeFileSync(store, Buffer.alloc(1 << 16));
  const r = await engine(
    ['fsync', 'run', '--store', store],
    '{"op":"write","id":1,"page":0,"value":"a"}\n{"op":"write","id":2,"page":-1,"value":"b"}\n',
  );
  t.is(r.exitCode, 2);
  t.is(r.stderr.trim(), 'stdin:2: page: must be a non-negative integer');
});

test('an unknown mode and an unusable store fail with one line', async (t) => {
  const r = await engine(['nope', 'dump', '--store', '/nonexistent']);
  t.is(r.exitCode, 1);
  t.regex(
    r.stderr.trim(),
    /^unknown engine mode "nope": use one of plain, fsync, group-commit, cow, slotted$/,
  );
  const small = join(dir, 'small.db');
  writeFileSync(small, Buffer.alloc(4096));
  const rec = await engine(['cow', 'recover', '--store', small, '--pages', '64']);
  t.is(rec.exitCode, 1);
  t.is(rec.stderr.trim().split('\n').length, 1);
});

test('--pause-at pauses at the mark until a resume line arrives', async (t) => {
  const store = join(dir, 'pause.db');
  writeFileSync(store, Buffer.alloc(1 << 16));
  const child = execa(
    'node',
    [...engineCliArgs, 'fsync', 'run', '--store', store, '--pause-at', 'here'],
    { reject: false },
  );
  const seen: Record<string, unknown>[] = [];
  let resumed = false;
  child.stdout!.on('data', (d: Buffer) => {
    for (const e of lines(d.toString())) {
      seen.push(e);
      if (e.type === 'mark' && e.paused && !resumed) {
        // Paused: write 3 must not have been started yet.
        t.false(seen.some((x) => x.id === 3));
        resumed = true;
        setTimeout(() => child.stdin!.end('{"op":"resume"}\n'), 100);
      }
    }
  });
  child.stdin!.write(
    '{"op":"write","id":1,"page":0,"value":"a"}\n{"op":"mark","id":2,"name":"here"}\n{"op":"write","id":3,"page":1,"value":"b"}\n',
  );
  const r = await child;
  t.is(r.exitCode, 0);
  t.true(resumed);
  t.true(seen.some((e) => e.id === 3 && e.type === 'ok'));
});

test('protocol lines are validated', (t) => {
  t.deepEqual(parseInputLine('{"op":"commit","id":4}', 1), { op: 'commit', id: 4 });
  t.throws(() => parseInputLine('{"op":"erase","id":1}', 7), {
    message: /^stdin:7: op: must be write, commit, mark or resume/,
  });
  t.throws(() => parseInputLine('nope', 3), { message: 'stdin:3: line: not JSON' });
});

test('usage errors exit 2 naming the option and the value; --help prints the options', async (t) => {
  const store = join(dir, 'usage.db');
  writeFileSync(store, Buffer.alloc(1 << 16));
  const bad = await engine(['fsync', 'dump', '--store', store, '--pages', 'x8']);
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /^--pages "x8": must be a non-negative integer\n/);
  const unknown = await engine(['fsync', 'dump', '--store', store, '--nope']);
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /--nope/);
  const missing = await engine(['fsync', 'dump']);
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /--store/);
  const verb = await engine(['fsync', 'erase', '--store', store]);
  t.is(verb.exitCode, 2);
  t.regex(verb.stderr, /unknown verb "erase": use run, recover or dump/);
  const help = await engine(['fsync', '--help']);
  t.is(help.exitCode, 0);
  t.regex(help.stdout, /^Usage: powercut-engine fsync run\|recover\|dump/);
  t.regex(help.stdout, /--batch-window-us <us> +group-commit batch window \(default: 200\)/);
  const eq = await engine(['fsync', 'dump', '--store', store, '--pages=2']);
  t.is(eq.exitCode, 0, eq.stderr);
  t.is(eq.stdout.trim().split('\n').length, 2, '--pages=2 as well as --pages 2');
});
