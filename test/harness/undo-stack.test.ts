import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndoStack } from '../../src/harness/undo-stack.ts';
import { LocalTarget } from '../../src/harness/target/local.ts';
import type { Target } from '../../src/harness/target/target.ts';

// Script steps on one target share one exec, on this host's real sh: still newest first, each
// step runs whatever the others did, and each failure is its own, with its own stderr.

/** This host as a target, every exec's command recorded in `execs`. */
function countingLocalTarget(): { local: LocalTarget; execs: string[]; target: Target } {
  const local = new LocalTarget();
  const execs: string[] = [];
  const target = Object.assign(Object.create(local) as Target, {
    exec: (command: string, options?: object) => (
      execs.push(command),
      local.exec(command, options)
    ),
  });
  return { local, execs, target };
}

test('script steps on one target run in one exec, newest first, each failing alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'undo-'));
  const { local, execs, target } = countingLocalTarget();
  const order: string[] = [];
  const undo = new UndoStack('test');
  undo.pushScript('first', target, `echo first >> ${dir}/order`);
  undo.push('in between', async () => {
    order.push('in between');
  });
  undo.pushScript('second', target, `echo second >> ${dir}/order; touch ${dir}/second`);
  undo.pushScript(
    'broken',
    target,
    `echo broken >> ${dir}/order; echo 'no such table' >&2; exit 4`,
  );
  undo.pushScript('last', target, `echo last >> ${dir}/order; touch ${dir}/last`);
  try {
    const failures = await undo.run();
    t.deepEqual(failures, ['broken: exited 4: no such table']);
    t.true(existsSync(`${dir}/last`) && existsSync(`${dir}/second`), 'the steps around it ran');
    const { stdout } = await local.exec(`cat ${dir}/order`);
    t.deepEqual(stdout.trim().split('\n'), ['last', 'broken', 'second', 'first']);
    t.is(execs.length, 2, 'last, broken and second in one exec; first after the plain step');
    t.deepEqual(order, ['in between']);
    t.deepEqual(await undo.run(), failures, 'runs once');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch whose exec fails reports every one of its steps', async (t) => {
  const target = Object.assign(Object.create(new LocalTarget()) as Target, {
    exec: async () => {
      throw new Error('connection lost');
    },
  });
  const undo = new UndoStack('test');
  undo.pushScript('a', target, 'true');
  undo.pushScript('b', target, 'true');
  t.deepEqual(await undo.run(), ['b: connection lost', 'a: connection lost']);
});

test('runAfter: a lead script and then every step in one exec; the lead’s output and exit code apart, the steps’ failures are what run() reports', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'undo-'));
  const { local, execs, target } = countingLocalTarget();
  const undo = new UndoStack('test');
  undo.pushScript('first', target, `echo first >> ${dir}/order`);
  undo.pushScript('broken', target, `echo broken >> ${dir}/order; echo 'busy' >&2; exit 4`);
  try {
    const led = await undo.runAfter(
      target,
      `echo checked >> ${dir}/order; printf 'fsck says\\nclean'; echo lead-err >&2; exit 8`,
      10_000,
    );
    t.deepEqual(led, { code: 8, stdout: 'fsck says\nclean', stderr: 'lead-err\n' });
    const { stdout } = await local.exec(`cat ${dir}/order`);
    t.deepEqual(stdout.trim().split('\n'), ['checked', 'broken', 'first']);
    t.is(execs.length, 1, 'one exec');
    t.deepEqual(await undo.run(), ['broken: exited 4: busy'], 'run() reports, runs nothing');
    t.is(execs.length, 1);
    t.is(await undo.runAfter(target, 'true', 1000), undefined, 'ran already: nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runAfter runs nothing when a step is not a script in that target; a lost exec fails lead and steps', async (t) => {
  const local = new LocalTarget();
  const mixed = new UndoStack('test');
  mixed.pushScript('a', local, 'true');
  mixed.push('plain', async () => undefined);
  t.is(await mixed.runAfter(local, 'echo never', 1000), undefined);
  t.deepEqual(await mixed.run(), [], 'run() still runs them');
  const lost = Object.assign(Object.create(local) as Target, {
    exec: async () => {
      throw new Error('connection lost');
    },
  });
  const undo = new UndoStack('test');
  undo.pushScript('a', lost, 'true');
  await t.throwsAsync(undo.runAfter(lost, 'true', 1000), { message: 'connection lost' });
  t.deepEqual(await undo.run(), ['a: connection lost']);
});
