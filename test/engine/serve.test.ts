import test from 'ava';
import { engineCliArgs, runEngineCli, scratchDir } from './engine-cli.ts';
import { execa } from 'execa';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServeAnswer } from '../../src/engine/serve.ts';

// `powercut-engine serve` as the harness runs it: one process, requests on stdin, answers on
// stdout; each answer what the one-shot command prints and exits with.

const dir = scratchDir(test, 'serve');
const oneShot = runEngineCli;

test('answers recover and dump in order, exactly as the one-shot commands; refuses run and bad requests', async (t) => {
  const store = resolve(dir, 'fsync.db');
  writeFileSync(store, Buffer.alloc(1 << 20));
  const workload = '{"op":"write","id":1,"page":3,"value":"w1"}\n';
  t.is((await oneShot(['fsync', 'run', '--store', store, '--pages', '8'], workload)).exitCode, 0);
  const small = resolve(dir, 'small.db');
  writeFileSync(small, Buffer.alloc(4096));

  const requests: string[][] = [
    ['fsync', 'recover', '--store', store, '--pages', '8', '--then-dump'],
    ['fsync', 'dump', '--store', store, '--pages', '8'],
    ['cow', 'recover', '--store', small, '--pages', '64'],
    ['fsync', 'run', '--store', store],
  ];
  const server = execa('node', [...engineCliArgs, 'serve'], {
    input: [...requests.map((argv, i) => JSON.stringify({ id: i + 1, argv })), 'not json'].join(
      '\n',
    ),
  });
  const answers = (await server).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ServeAnswer);
  t.deepEqual(
    answers.map((a) => a.id),
    [1, 2, 3, 4, -1],
  );
  for (const [i, argv] of requests.slice(0, 3).entries()) {
    const expected = await oneShot(argv);
    t.is(answers[i]!.code, expected.exitCode ?? -1, argv.join(' '));
    t.is(answers[i]!.stdout.trim(), expected.stdout.trim(), argv.join(' '));
    t.is(answers[i]!.stderr.trim(), expected.stderr.trim(), argv.join(' '));
  }
  t.regex(answers[0]!.stdout, /"page":3,"value":"w1"/);
  t.is(answers[2]!.code, 1, 'a store too small: recover fails with one line');
  t.is(answers[3]!.code, 2);
  t.regex(answers[3]!.stderr, /only recover and dump are served, not "run"/);
  t.is(answers[4]!.code, 2);
});

test('a served request leaves no file open, whether it succeeded or failed', async (t) => {
  const store = resolve(dir, 'open.db');
  writeFileSync(store, Buffer.alloc(1 << 20));
  const small = resolve(dir, 'open-small.db');
  writeFileSync(small, Buffer.alloc(4096));
  const server = execa('node', [...engineCliArgs, 'serve']);
  const out: string[] = [];
  server.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  const answered = async (n: number) => {
    while (out.join('').split('\n').filter(Boolean).length < n)
      await new Promise((r) => setTimeout(r, 20));
  };
  server.stdin!.write(
    `${JSON.stringify({ id: 1, argv: ['fsync', 'recover', '--store', store, '--pages', '8', '--then-dump'] })}\n`,
  );
  server.stdin!.write(
    `${JSON.stringify({ id: 2, argv: ['cow', 'recover', '--store', small, '--pages', '64'] })}\n`,
  );
  await answered(2);
  const open = readdirSync(`/proc/${server.pid}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${server.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((path) => path.startsWith(resolve(dir)));
  t.deepEqual(open, [], 'the server holds nothing under the stores’ directory');
  server.stdin!.end();
  t.is((await server).exitCode, 0, 'ends with its stdin');
});
