import test from 'ava';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detachLoopIfBackedByScript,
  detachOwnLoopsScript,
  isMountedScript,
  killFromPidFileScript,
  killIfStartedAtScript,
  loopListScript,
  removeOwnDirScript,
  removeOwnTableScript,
  requireOwnLoopScript,
  unmountAfterCrashScript,
  unmountOwnScript,
} from '../../../src/harness/device/guards.ts';
import { parseLoopLines } from '../../../src/harness/device/loop-check.ts';
import { resourceNames } from '../../../src/harness/device/names.ts';
import { alive } from '../../process-alive.ts';

// The guards for real on this host's dash, psmisc and util-linux (root: the tests mount a tmpfs
// of their own under a fresh run id), beside the [vm] ones in test/harness/safety.test.ts.

const dash = (script: string) => execa('dash', ['-c', script], { reject: false });
const names = () => resourceNames(`${randomBytes(4).toString('hex')}0`);
const startTime = (pid: number): string =>
  readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ')[19]!;
const sleeper = (cwd = '/') => {
  const child = spawn('sleep', ['600'], { cwd, stdio: 'ignore' });
  return { pid: child.pid!, kill: () => child.kill('SIGKILL') };
};

test("every guard refuses a name that is not powercut's, before any shell runs", (t) => {
  for (const path of ['/', '/mnt', '/mnt/data', '/mnt/powercut-', '/mnt/powercut-short']) {
    t.throws(() => unmountOwnScript(path), { message: /refusing to remove mount point/ });
    t.throws(() => unmountAfterCrashScript(path), { message: /refusing to remove mount point/ });
  }
  for (const table of ['root', 'powercut-', 'vg0-root'])
    t.throws(() => removeOwnTableScript(table), { message: /refusing to remove dm table/ });
  for (const dir of ['/var/tmp', '/var/tmp/powercut', '/home/user'])
    t.throws(() => removeOwnDirScript(dir), { message: /refusing to remove directory/ });
  t.throws(() => killFromPidFileScript('/run/sshd.pid'), {
    message: /refusing to remove pid file/,
  });
  t.throws(() => killIfStartedAtScript(1, '5'), { message: /refusing to kill pid 1/ });
  t.throws(() => killIfStartedAtScript(4242, '5; reboot'), { message: /refusing to kill/ });
});

test('a pid is killed only while it has the start time recorded for it', async (t) => {
  const p = sleeper();
  try {
    await dash(killIfStartedAtScript(p.pid, String(Number(startTime(p.pid)) + 1)));
    t.true(alive(p.pid), 'another start time: a recycled pid, left alone');
    const r = await dash(killIfStartedAtScript(p.pid, startTime(p.pid)));
    t.is(r.exitCode, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.false(alive(p.pid) && !readFileSync(`/proc/${p.pid}/stat`, 'utf8').includes(') Z '));
  } finally {
    p.kill();
  }
});

test('the pid file is trusted only as far as its start time goes', async (t) => {
  const n = names();
  mkdirSync(n.backingDir, { recursive: true });
  const p = sleeper();
  try {
    writeFileSync(n.pidFile, `${p.pid} 1\n`);
    await dash(killFromPidFileScript(n.pidFile));
    t.true(alive(p.pid), 'a stale pid file names a process that is no longer ours');
    writeFileSync(n.pidFile, `${p.pid} ${startTime(p.pid)}\n`);
    await dash(killFromPidFileScript(n.pidFile));
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.false(alive(p.pid) && !readFileSync(`/proc/${p.pid}/stat`, 'utf8').includes(') Z '));
  } finally {
    p.kill();
    await dash(removeOwnDirScript(n.backingDir));
  }
});

test('unmount: a directory that is not a mount point is removed and no process is touched', async (t) => {
  const { mountPoint } = names();
  mkdirSync(mountPoint);
  const p = sleeper(); // on the root filesystem, which psmisc's `fuser -m <dir>` would select
  try {
    t.is((await dash(isMountedScript(mountPoint))).exitCode, 1);
    const r = await dash(unmountOwnScript(mountPoint));
    t.is(r.exitCode, 0, r.stderr);
    t.true(alive(p.pid));
    t.is((await dash(`[ -e ${mountPoint} ]`)).exitCode, 1, 'the directory is gone');
  } finally {
    p.kill();
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

/** A tmpfs of our own at a fresh powercut mount point, held busy by a process sitting in it. */
async function withBusyMount(
  body: (mountPoint: string, holder: ReturnType<typeof sleeper>) => Promise<void>,
): Promise<void> {
  const { mountPoint } = names();
  mkdirSync(mountPoint);
  await execa('mount', ['-t', 'tmpfs', 'powercut-test', mountPoint]);
  const holder = sleeper(mountPoint);
  try {
    await body(mountPoint, holder);
  } finally {
    holder.kill();
    await execa('umount', [mountPoint], { reject: false });
    rmSync(mountPoint, { recursive: true, force: true });
  }
}

test('unmount: a busy mount is detached lazily and its holder named, never killed', async (t) => {
  await withBusyMount(async (mountPoint, holder) => {
    t.is((await dash(isMountedScript(mountPoint))).exitCode, 0);
    const r = await dash(unmountOwnScript(mountPoint));
    t.is(r.exitCode, 3, 'busy: reported');
    t.regex(r.stderr, new RegExp(`${mountPoint} still busy .*held by: .*${holder.pid}`));
    t.true(alive(holder.pid), 'the holder is named, not killed');
    t.is((await dash(isMountedScript(mountPoint))).exitCode, 1, 'detached');
  });
});

test('the crash unmount never detaches lazily: busy is an error naming the holder; free, it unmounts', async (t) => {
  await withBusyMount(async (mountPoint, holder) => {
    const busy = await dash(unmountAfterCrashScript(mountPoint, 1));
    t.is(busy.exitCode, 3, 'busy: an error');
    t.regex(busy.stderr, new RegExp(`umount ${mountPoint}: .*held by: .*${holder.pid}`));
    t.is((await dash(isMountedScript(mountPoint))).exitCode, 0, 'still mounted, not detached');
    t.true(alive(holder.pid), 'the holder is named, not killed');
    holder.kill();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const free = await dash(unmountAfterCrashScript(mountPoint, 1));
    t.is(free.exitCode, 0, free.stderr);
    t.is((await dash(isMountedScript(mountPoint))).exitCode, 1, 'unmounted');
    t.is((await dash(unmountAfterCrashScript(mountPoint, 1))).exitCode, 0, 'not mounted: done');
  });
});

for (const [how, sys] of [
  ['sysfs', '/sys'],
  ['losetup, where there is no sysfs', '/nonexistent'],
] as const) {
  test.serial(
    `the loop guard passes a loop device backed by our file and stops the script at any other (${how})`,
    async (t) => {
      await withLoops(async ({ ours, foreign, backingFile, foreignFile }) => {
        const pass = await dash(`${requireOwnLoopScript(ours, backingFile, sys)}\necho went on`);
        t.is(pass.exitCode, 0, pass.stderr);
        t.is(pass.stdout.trim(), 'went on');
        const viaVariable = await dash(
          `L=${ours}\n${requireOwnLoopScript('$L', backingFile, sys)}\necho went on`,
        );
        t.is(viaVariable.stdout.trim(), 'went on', viaVariable.stderr);
        const stop = await dash(`${requireOwnLoopScript(foreign, backingFile, sys)}\necho went on`);
        t.is(stop.exitCode, 1);
        t.is(stop.stdout, '', 'nothing after the guard ran');
        t.is(
          stop.stderr.trim(),
          `refusing ${foreign}: a loop device powercut did not create (backed by ${foreignFile})`,
        );
        const unbound = await dash(
          `${requireOwnLoopScript('/dev/loop250', backingFile, sys)}\necho went on`,
        );
        t.is(unbound.exitCode, 1, 'no such loop device: refused');
        t.regex(unbound.stderr, /backed by nothing/);
        t.throws(() => requireOwnLoopScript('/dev/sda', backingFile), {
          message: `refusing to write to loop device "/dev/sda": not powercut's`,
        });
        t.throws(() => requireOwnLoopScript(ours, foreignFile), {
          message: /refusing to write to backing file/,
        });
      });
    },
  );

  test.serial(
    `loop devices are listed, and only ours detached, by backing file (${how})`,
    async (t) => {
      await withLoops(async ({ ours, foreign, backingFile, foreignFile }) => {
        const listed = parseLoopLines((await dash(loopListScript(sys))).stdout);
        t.is(listed.get(ours), backingFile);
        t.is(listed.get(foreign), foreignFile);
        const kept = await dash(detachLoopIfBackedByScript(foreign, backingFile, sys));
        t.is(kept.exitCode, 0);
        const detached = await dash(detachOwnLoopsScript([backingFile], sys));
        t.is(detached.exitCode, 0, detached.stderr);
        const after = parseLoopLines((await dash(loopListScript(sys))).stdout);
        t.false(after.has(ours), 'ours detached');
        t.is(after.get(foreign), foreignFile, 'the foreign one left alone');
      });
    },
  );
}

/** A loop device over one of our backing files and one over a file that is not ours. */
async function withLoops(
  body: (loops: {
    ours: string;
    foreign: string;
    backingFile: string;
    foreignFile: string;
  }) => Promise<void>,
): Promise<void> {
  const { backingDir, backingFile } = names();
  mkdirSync(backingDir, { recursive: true });
  writeFileSync(backingFile, Buffer.alloc(1 << 20));
  const foreignFile = join(tmpdir(), `powercut-foreign-${process.pid}.img`);
  writeFileSync(foreignFile, Buffer.alloc(1 << 20));
  const attach = async (file: string) =>
    (await execa('losetup', ['--find', '--show', file])).stdout.trim();
  const ours = await attach(backingFile);
  const foreign = await attach(foreignFile);
  try {
    await body({ ours, foreign, backingFile, foreignFile });
  } finally {
    await execa('losetup', ['-d', ours], { reject: false });
    await execa('losetup', ['-d', foreign], { reject: false });
    rmSync(backingDir, { recursive: true, force: true });
    rmSync(foreignFile, { force: true });
  }
}
