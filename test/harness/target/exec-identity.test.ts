import test from 'ava';
import { targetShells } from './shells.ts';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { HarnessError } from '../../../src/harness/errors.ts';
import { killTreeScript, splitIdentity } from '../../../src/harness/target/exec-identity.ts';

// The kill behind a timed-out ssh exec, run here with the shells targets have (dash, busybox).

test('the identity line is taken out of stderr; stderr without one is left alone', (t) => {
  t.deepEqual(splitIdentity('@powercut-exec 123 4567\nmkfs: boom\n'), {
    identity: { pid: 123, startTime: '4567' },
    rest: 'mkfs: boom\n',
  });
  t.deepEqual(splitIdentity('mkfs: boom\n'), { rest: 'mkfs: boom\n' });
});

test('refuses pid 1 and a start time that is not a number', (t) => {
  t.throws(() => killTreeScript({ pid: 1, startTime: '5' }), { instanceOf: HarnessError });
  t.throws(() => killTreeScript({ pid: 99, startTime: '5; reboot' }), {
    instanceOf: HarnessError,
  });
});

/** The processes that run exactly `sleep SECONDS`, for any of the given seconds. */
const sleepers = (...seconds: number[]): number[] =>
  readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv[0]?.endsWith('sleep') && seconds.includes(Number(argv[1]));
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
const sleeping = (...seconds: number[]): number => sleepers(...seconds).length;

const shells = targetShells;

for (const shell of shells) {
  test.serial(
    `${shell.join(' ')}: kills the shell and its whole tree, and only when the start time matches`,
    async (t) => {
      const tag = 860 + shells.indexOf(shell);
      const child = spawn(shell[0]!, [
        ...shell.slice(1),
        '-c',
        `read -r s < /proc/$$/stat; set -- \${s##*) }; echo "@powercut-exec $$ \${20}" >&2; sleep ${tag}1 & (sleep ${tag}2; true); true`,
      ]);
      const stderr = await new Promise<string>((resolve) =>
        child.stderr.once('data', (d: Buffer) => resolve(d.toString())),
      );
      const { identity } = splitIdentity(stderr);
      t.truthy(identity);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const seconds = [tag * 10 + 1, tag * 10 + 2];
      // Should the test fail, its sleeps (these exact command lines, nobody else's) go anyway.
      t.teardown(() => sleepers(...seconds).forEach((pid) => process.kill(pid, 'SIGKILL')));
      t.is(sleeping(...seconds), 2);
      // A start time that is not this process's: nothing is touched.
      execFileSync(shell[0]!, [
        ...shell.slice(1),
        '-c',
        killTreeScript({ ...identity!, startTime: '1' }),
      ]);
      t.is(sleeping(...seconds), 2);
      t.is(
        Number(readFileSync(`/proc/${identity!.pid}/stat`, 'utf8').split(' ')[0]),
        identity!.pid,
      );
      execFileSync(shell[0]!, [...shell.slice(1), '-c', killTreeScript(identity!)]);
      await new Promise((resolve) => child.on('close', resolve));
      await new Promise((resolve) => setTimeout(resolve, 200));
      t.is(sleeping(...seconds), 0, 'the background sleep and the subshell and its sleep are gone');
    },
  );
}
