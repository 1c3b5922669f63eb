import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { createFaultDevice } from '../../src/harness/device/fault-device.ts';
import { flakeyFeatures } from '../../src/harness/device/features.ts';
import { verifyOwnLoop } from '../../src/harness/device/loop-check.ts';
import { sweepStale } from '../../src/harness/device/sweep.ts';
import { HarnessError } from '../../src/harness/errors.ts';
import { startQemuTarget } from '../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../src/harness/target/ssh.ts';

// Safety and cleanup, for real in the guest: powercut only ever touches what it created.
let target: SshTarget;
test.before(async () => {
  target = await startQemuTarget();
});
test.after.always(async () => {
  await target?.teardown();
});

const leftovers = async (): Promise<string> =>
  (
    await target.exec(
      "dmsetup ls | grep '^powercut-' ; losetup -J -l | grep -o '/var/tmp/powercut[^\"]*' ; grep ' /mnt/powercut-' /proc/mounts; true",
    )
  ).stdout.trim();

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
  '[vm] a device that is not a loop device, or a loop device powercut did not create, is refused',
  async (t) => {
    await t.throwsAsync(verifyOwnLoop(target, '/dev/vda'), {
      instanceOf: HarnessError,
      message: 'refusing /dev/vda: not a loop device created by powercut',
    });
    const foreign = (
      await target.exec('truncate -s 8M /tmp/foreign.img && losetup --find --show /tmp/foreign.img')
    ).stdout.trim();
    try {
      await t.throwsAsync(verifyOwnLoop(target, foreign), {
        message: new RegExp(`^refusing ${foreign}: a loop device powercut did not create`),
      });
      const swept = await sweepStale(target);
      t.false(swept.some((s) => s.includes(foreign)));
      const still = (await target.exec('losetup -J -l')).stdout;
      t.true(still.includes('/tmp/foreign.img'), 'the foreign loop device survived the sweep');
    } finally {
      await target.exec(`losetup -d ${foreign}; rm -f /tmp/foreign.img`);
    }
  },
);

test.serial(
  '[vm] the stale sweep removes what an interrupted run left, and only that',
  async (t) => {
    const device = await createFaultDevice(target, { runId: 'stale1', sizeBytes: 64 << 20 });
    await target.exec(
      `mkfs.ext4 -F -q ${device.path} && mount ${device.path} ${device.mountPoint}`,
    );
    t.not(await leftovers(), '');
    const swept = await sweepStale(target);
    t.true(swept.some((s) => s.startsWith('mount ')));
    t.true(swept.some((s) => s === 'table powercut-stale1'));
    t.true(swept.some((s) => s.startsWith('loop ')));
    t.is(await leftovers(), '');
  },
);

test.serial(
  '[vm] SIGINT in the middle of a run leaves no table, loop device or mount behind',
  async (t) => {
    const access = target.access!;
    const dir = mkdtempSync(join(tmpdir(), 'powercut-sigint-'));
    const scenario = join(dir, 'slow.yaml');
    // Slow enough to be interrupted mid-workload.
    writeFileSync(
      scenario,
      'engine: { mode: fsync }\nworkload: { ops: 400, pages: 16, opsPerSecond: 40 }\nfault: { kind: drop_writes, arm: { afterOp: 300 } }\n',
    );
    const child = execa(
      'node',
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        scenario,
        '--target',
        'ssh',
        '--store',
        join(dir, 'store'),
      ],
      {
        reject: false,
        all: true,
        env: {
          POWERCUT_SSH_HOST: access.host,
          POWERCUT_SSH_PORT: String(access.port),
          POWERCUT_SSH_KEY: access.privateKeyPath,
          POWERCUT_SSH_HOST_KEY: access.hostKey ?? '',
        },
      },
    );
    // Interrupt once the trial's device exists and the engine is writing.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const out = await target.exec("ps | grep '[n]ode /opt/powercut/powercut-engine.mjs' || true");
      if (out.stdout.trim() !== '') {
        t.log(
          `engine running after ${60 - Math.round((deadline - Date.now()) / 1000)} s: ${out.stdout.trim()}`,
        );
        break;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const created = await leftovers();
    child.kill('SIGINT');
    const result = await child;
    t.not(created, '', `the run created its resources; run output: ${String(result.all)}`);
    t.log(String(result.all).trim().split('\n').slice(-3).join(' | '));
    t.is(result.exitCode, 130);
    t.is(await leftovers(), '', 'nothing of powercut is left in the guest');
  },
);
