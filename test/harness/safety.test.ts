import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa, type ResultPromise } from 'execa';
import { createFaultDevice } from '../../src/harness/device/fault-device.ts';
import { flakeyFeatures } from '../../src/harness/device/features.ts';
import { requireOwnLoopScript } from '../../src/harness/device/guards.ts';
import { resourceNames } from '../../src/harness/device/names.ts';
import { ownership } from '../../src/harness/device/ownership.ts';
import { sweepStale } from '../../src/harness/device/sweep.ts';
import { HarnessError } from '../../src/harness/errors.ts';
import { startQemuTarget } from '../../src/harness/target/qemu.ts';
import { startSshTarget, type SshTarget } from '../../src/harness/target/ssh.ts';
import type { Target } from '../../src/harness/target/target.ts';
import { installGuestEngine } from '../../src/harness/trial/guest-engine.ts';
import { runTrial } from '../../src/harness/trial/run-trial.ts';
import { TrialRig } from '../../src/harness/trial/trial-rig.ts';
import { plans } from './trial/vm-helpers.ts';

// Safety and cleanup, for real in the guest (which carries psmisc's fuser and util-linux's
// flock, like the hosts users run on): powercut only ever touches what it created.
let target: SshTarget;
test.before(async () => {
  target = await startQemuTarget();
  await installGuestEngine(target);
});
test.after.always(async () => {
  await target?.teardown();
});

const leftovers = async (): Promise<string> =>
  (
    await target.exec(
      "dmsetup ls | grep '^powercut-' ; losetup -J -l | grep -o '/var/tmp/powercut/[a-z0-9]*/[^\"]*' ; grep ' /mnt/powercut-' /proc/mounts; true",
    )
  ).stdout.trim();

/** A second connection to the same guest: another powercut owner, as a second run would be. */
const secondConnection = (): Promise<Target> => {
  const a = target.access!;
  return startSshTarget({
    host: a.host,
    port: a.port,
    username: a.username,
    privateKeyPath: a.privateKeyPath,
    ...(a.hostKey ? { hostKey: a.hostKey } : {}),
  });
};

/** `powercut ...` as a user runs it, against this guest over ssh. */
function cli(args: string[]): ResultPromise<{ reject: false; all: true }> {
  const a = target.access!;
  return execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args, '--target', 'ssh'], {
    reject: false,
    all: true,
    env: {
      POWERCUT_SSH_HOST: a.host,
      POWERCUT_SSH_PORT: String(a.port),
      POWERCUT_SSH_KEY: a.privateKeyPath,
      POWERCUT_SSH_HOST_KEY: a.hostKey ?? '',
    },
  });
}

const slowScenario = (dir: string, name: string, ops = 400): string => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `engine: { mode: fsync }\nworkload: { ops: ${ops}, pages: 16, opsPerSecond: 40 }\nfault: { kind: drop_writes, arm: { afterOp: ${Math.floor(ops * 0.75)} } }\n`,
  );
  return file;
};

async function waitForEngine(t: ExecutionContext, count = 1): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const out = await target.exec(
      // An engine's `run` (not the engine server, which answers recover and dump).
      "ps | grep -c '[n]ode /opt/powercut/powercut-engine.cjs [a-z-]* run ' || true",
    );
    if (Number(out.stdout.trim()) >= count) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  t.fail(`no ${count} engine(s) running within 90 s`);
}

/**
 * Two processes that are not powercut's: one on the guest's root filesystem (where psmisc's
 * `fuser -m` on an unmounted /mnt/powercut-* directory would select it, and PID 1 with it),
 * one holding a file open on another mount under /mnt.
 */
async function startSentinels(): Promise<number[]> {
  const out = await target.exec(
    [
      'cd / && sleep 100000 </dev/null >/dev/null 2>&1 & echo $!',
      'mkdir -p /mnt/sentinel && (grep -q " /mnt/sentinel " /proc/mounts || mount -t tmpfs tmpfs /mnt/sentinel) && echo held > /mnt/sentinel/file',
      'sleep 100000 </mnt/sentinel/file >/dev/null 2>&1 & echo $!',
    ].join('\n'),
  );
  return out.stdout.trim().split('\n').map(Number);
}

async function assertAlive(t: ExecutionContext, pids: number[], after: string): Promise<void> {
  const r = await target.exec(
    pids.map((p) => `kill -0 ${p} && echo alive ${p}`).join('; ') + '; true',
  );
  for (const p of pids)
    t.true(r.stdout.includes(`alive ${p}`), `sentinel ${p} is alive after ${after}`);
  t.is((await target.exec('cat /proc/1/comm')).stdout.trim() !== '', true, 'PID 1 is alive');
}

test.serial(
  '[vm] dm-flakey features are detected; random_write_corrupt is reported unsupported on 6.1',
  async (t) => {
    const features = await flakeyFeatures(target);
    for (const f of ['drop_writes', 'error_writes', 'corrupt_bio_byte']) t.true(features.has(f), f);
    t.false(features.has('random_write_corrupt'));
    t.is(await leftovers(), '', 'the probe cleaned up after itself');
  },
);

test.serial(
  "[vm] the guest's fuser is psmisc's: -m on a plain directory selects the root filesystem's processes (PID 1 too), -M -m none",
  async (t) => {
    // Why no cleanup ever calls `fuser -km` on a path: this is what the old teardown did.
    const r = await target.exec(
      'mkdir -p /mnt/not-a-mount; echo "m:$(fuser -m /mnt/not-a-mount 2>/dev/null)"; echo "M:$(fuser -M -m /mnt/not-a-mount 2>/dev/null)"; rmdir /mnt/not-a-mount',
      { check: false },
    );
    const selected = (prefix: string): string[] =>
      (/^\w:(.*)$/m.exec(r.stdout.split('\n').find((l) => l.startsWith(prefix)) ?? '')?.[1] ?? '')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
    t.true(selected('m:').includes('1'), `fuser -m selects PID 1: ${r.stdout}`);
    t.deepEqual(selected('M:'), [], `fuser -M -m selects nothing: ${r.stdout}`);
  },
);

test.serial(
  '[vm] a device that is not a loop device, or a loop device powercut did not create, is refused',
  async (t) => {
    const ours = resourceNames((await ownership(target)).newRunId()).backingFile;
    t.throws(() => requireOwnLoopScript('/dev/vda', ours), {
      instanceOf: HarnessError,
      message: `refusing to write to loop device "/dev/vda": not powercut's`,
    });
    const foreign = (
      await target.exec('truncate -s 8M /tmp/foreign.img && losetup --find --show /tmp/foreign.img')
    ).stdout.trim();
    try {
      // The guard mkfs and the dm table run behind, in the guest: a loop device not backed by
      // our file stops the script before anything writes to it.
      const r = await target.exec(`${requireOwnLoopScript(foreign, ours)}\necho wrote`, {
        check: false,
      });
      t.is(r.code, 1);
      t.is(r.stdout, '', 'nothing after the guard ran');
      t.is(
        r.stderr.trim(),
        `refusing ${foreign}: a loop device powercut did not create (backed by /tmp/foreign.img)`,
      );
      const swept = await sweepStale(target);
      t.false(swept.removed.some((s) => s.includes(foreign)));
      const still = (await target.exec('losetup -J -l')).stdout;
      t.true(still.includes('/tmp/foreign.img'), 'the foreign loop device survived the sweep');
    } finally {
      await target.exec(`losetup -d ${foreign}; rm -f /tmp/foreign.img`);
    }
  },
);

test.serial(
  '[vm] a filesystem held busy after the plug pull is a harness error, and the table is never made linear under it',
  async (t) => {
    const [plan] = plans(
      'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: drop_writes }\n',
    );
    const rig = await TrialRig.create(target, plan!);
    const { table } = rig.faultDevice.names;
    const tableKind = async () =>
      (await target.exec(`dmsetup table ${table}`)).stdout.split(' ')[2];
    // Not powercut's engine (no pid file): a process of someone else's sitting in the mount.
    const holder = await target.spawn(`sh -c 'cd ${rig.mountPoint} && exec sleep 600'`);
    try {
      await rig.use(async () => {
        const pulled = await rig.pullPlug().catch((e: Error) => e);
        t.true(pulled instanceof HarnessError);
        t.regex(String(pulled), /did not unmount .*held by: .*\d/);
        t.is(await tableKind(), 'flakey', 'still dropping every write');
        t.true(
          (await target.exec(`grep -c ' ${rig.mountPoint} ' /proc/mounts`)).stdout.trim() === '1',
        );
        const remounted = await rig.remountAfterCrash().catch((e: Error) => e);
        t.regex(String(remounted), /is still mounted after the crash \(nothing reloaded\)/);
        t.is(await tableKind(), 'flakey', 'not made linear under the mounted filesystem');
        await holder.kill();
        await rig.pullPlug();
        await rig.remountAfterCrash();
        t.is(await tableKind(), 'linear');
        return { log: [] };
      });
    } finally {
      await holder.kill();
    }
    t.is(await leftovers(), '');
  },
);

test.serial(
  '[vm] the sweep removes what a dead run left, and leaves a live run of another owner alone',
  async (t) => {
    // A live owner: a second connection that stays open, with a mounted device.
    const liveOwner = await secondConnection();
    const live = await createFaultDevice(liveOwner, { sizeBytes: 64 << 20 });
    await liveOwner.exec(`mkfs.ext4 -F -q ${live.path} && mount ${live.path} ${live.mountPoint}`);
    // A dead owner: the same, then its connection is gone (its owner lock is released).
    const deadOwner = await secondConnection();
    const dead = await createFaultDevice(deadOwner, { sizeBytes: 64 << 20 });
    await deadOwner.exec(`mkfs.ext4 -F -q ${dead.path} && mount ${dead.path} ${dead.mountPoint}`);
    await deadOwner.teardown();
    await new Promise((r) => setTimeout(r, 1000));
    try {
      const swept = await sweepStale(target);
      t.log(swept);
      t.deepEqual(swept.failed, []);
      t.true(swept.removed.includes(`mount ${dead.mountPoint}`));
      t.true(swept.removed.includes(`table ${dead.names.table}`));
      t.true(swept.removed.some((s) => s.startsWith('loop ')));
      t.true(swept.liveRuns.includes(live.names.runId));
      t.false(
        swept.removed.some((s) => s.includes(live.names.runId)),
        'the live run was not touched',
      );
      const after = await leftovers();
      t.false(after.includes(dead.names.runId), 'nothing of the dead run is left');
      t.true(after.includes(`/mnt/${live.names.table}`), 'the live run is still mounted');
      t.true(after.includes(live.names.backingFile), "the live run's loop device is still there");
    } finally {
      t.deepEqual(await live.destroy(), []);
      await liveOwner.teardown();
    }
    t.is(await leftovers(), '');
  },
);

test.serial(
  '[vm] processes that are not powercut’s survive a trial, a SIGINT-interrupted run and powercut clean',
  async (t) => {
    const sentinels = await startSentinels();
    try {
      const r = await runTrial(
        target,
        plans(
          'engine: { mode: fsync }\nworkload: { ops: 30, pages: 8 }\nfault: { kind: drop_writes, arm: { afterOp: 15 } }\n',
        )[0]!,
        {},
      );
      t.is(r.cleanupFailures, undefined);
      await assertAlive(t, sentinels, 'a normal trial');

      const dir = mkdtempSync(join(tmpdir(), 'powercut-sigint-'));
      const child = cli(['run', slowScenario(dir, 'slow'), '--store', join(dir, 'store')]);
      await waitForEngine(t);
      const created = await leftovers();
      child.kill('SIGINT');
      const result = await child;
      t.not(created, '', `the run created its resources; run output: ${String(result.all)}`);
      t.is(result.exitCode, 130, String(result.all));
      t.is(await leftovers(), '', 'nothing of powercut is left in the guest');
      await assertAlive(t, sentinels, 'an interrupted run');

      const clean = await cli(['clean']);
      t.is(clean.exitCode, 0, String(clean.all));
      await assertAlive(t, sentinels, 'powercut clean');
    } finally {
      await target.exec(
        `kill ${sentinels.join(' ')}; sleep 0.2; umount /mnt/sentinel; rmdir /mnt/sentinel; true`,
      );
    }
  },
);

test.serial(
  '[vm] two runs on one target at once: neither sweeps the other, both finish',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'powercut-two-'));
    const first = cli([
      'run',
      slowScenario(dir, 'first', 200),
      '--store',
      join(dir, 'a'),
      '--seed',
      '1',
    ]);
    await waitForEngine(t);
    // The second run sweeps before each of its trials while the first run's trial is live.
    const second = cli([
      'run',
      slowScenario(dir, 'second', 120),
      '--store',
      join(dir, 'b'),
      '--seed',
      '2',
    ]);
    const [a, b] = await Promise.all([first, second]);
    t.log(String(a.all));
    t.log(String(b.all));
    t.is(a.exitCode, 0, String(a.all));
    t.is(b.exitCode, 0, String(b.all));
    t.regex(String(b.all), /left alone \(live runs of other owners\)/);
    // Whatever either swept (stale owner locks of earlier runs at most), it was not the other's.
    for (const line of `${String(a.all)}\n${String(b.all)}`.split('\n'))
      if (line.includes('swept stale resources'))
        t.notRegex(line, /mount|table|loop|dir|engine/, line);
    t.is(await leftovers(), '');
  },
);
