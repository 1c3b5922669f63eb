import test from 'ava';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '../../../src/harness/target/local.ts';
import { HarnessError } from '../../../src/harness/errors.ts';
import {
  assertConcurrentCommandsExact,
  assertSpawnStreamsAndKills,
  assertTimeoutKillsTheCommandTree,
} from './contract.ts';

const target = new LocalTarget();

test('local exec collects output and exit codes; check throws naming the command', async (t) => {
  const r = await target.exec('echo out; echo err >&2; exit 3', { check: false });
  t.like(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  await t.throwsAsync(target.exec('echo boom >&2; exit 4'), {
    instanceOf: HarnessError,
    message: '`echo boom >&2; exit 4` exited 4: boom',
  });
  t.is((await target.exec('cat', { stdin: 'piped' })).stdout, 'piped');
});

test('local exec: a command left behind writing is waited for on its own process (ownProcess), and never spills into the next command', async (t) => {
  const leaves = '(sleep 0.3; echo late) & echo now';
  t.is((await target.exec(leaves, { ownProcess: true })).stdout, 'now\nlate\n');
  t.is((await target.exec('echo next')).stdout, 'next\n');
});

test('local exec timeout kills the command', async (t) => {
  const start = Date.now();
  await t.throwsAsync(target.exec('sleep 5', { timeoutMs: 200 }), {
    message: /timed out after 200 ms/,
  });
  t.true(Date.now() - start < 2_000);
});

test('local exec timeout kills the whole command tree, background children too', (t) =>
  assertTimeoutKillsTheCommandTree(t, target));

test('local exec: more commands at once than command shells, each once with exactly its own output and code', (t) =>
  assertConcurrentCommandsExact(t, target));

test('local spawn streams lines from stdin and kill ends it', (t) =>
  assertSpawnStreamsAndKills(t, target));

test('local upload copies the file with its mode into new directories', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-local-'));
  const source = join(dir, 'src');
  writeFileSync(source, Buffer.from([0, 1, 2, 255]));
  const destination = join(dir, 'a/b/dst');
  await target.upload(source, destination, 0o600);
  t.deepEqual(readFileSync(destination), Buffer.from([0, 1, 2, 255]));
  t.is(statSync(destination).mode & 0o777, 0o600);
});
