import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SshConnection } from '../../../src/harness/target/ssh-connection.ts';
import { startQemuTarget } from '../../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../../src/harness/target/ssh.ts';
import { HarnessError } from '../../../src/harness/errors.ts';
import { installGuestEngine } from '../../../src/harness/trial/guest-engine.ts';
import {
  assertConcurrentCommandsExact,
  assertConcurrentExecsRunOnce,
  assertSpawnStreamsAndKills,
  assertTimeoutKillsTheCommandTree,
} from './contract.ts';

let target: SshTarget;
test.before(async () => {
  const started = Date.now();
  target = await startQemuTarget();
  console.log(
    `guest booted to ssh in ${((Date.now() - started) / 1000).toFixed(1)} s: ${target.description}`,
  );
});
test.after.always(async () => {
  await target?.teardown();
});

test.serial(
  "[vm] the guest runs Debian's kernel with dm-flakey, util-linux losetup, the mkfs tools and the host's node",
  async (t) => {
    const r = await target.exec(
      'uname -r; dmsetup targets; losetup --version; for c in mkfs.ext4 mkfs.xfs mkfs.btrfs; do command -v $c; done; node -v',
    );
    t.regex(r.stdout, /^\d+\.\d+\.\d+-\d+-amd64$/m);
    t.regex(r.stdout, /^flakey\s+v/m);
    t.regex(r.stdout, /^log-writes\s+v/m);
    t.regex(r.stdout, /util-linux/);
    t.regex(r.stdout, /mkfs\.ext4[\s\S]*mkfs\.xfs[\s\S]*mkfs\.btrfs/);
    t.true(r.stdout.includes(process.version));
  },
);

test.serial(
  '[vm] the guest CPU has the crc32 instruction, so the addon checksums pages natively there',
  async (t) => {
    await installGuestEngine(target);
    const r = await target.exec(
      `grep -m1 -ow sse4_2 /proc/cpuinfo; /opt/powercut/bin/node -e "process.stdout.write(typeof require('/opt/powercut/powercut_native.node').crc32c)"`,
    );
    t.is(r.stdout, 'sse4_2\nfunction');
  },
);

test.serial('[vm] exec: exit codes, stderr, check and timeout', async (t) => {
  const r = await target.exec('echo out; echo err >&2; exit 3', { check: false });
  t.like(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  await t.throwsAsync(target.exec('echo boom >&2; exit 4'), {
    instanceOf: HarnessError,
    message: '`echo boom >&2; exit 4` exited 4: boom',
  });
  await t.throwsAsync(target.exec('sleep 5', { timeoutMs: 300 }), {
    message: /timed out after 300 ms/,
  });
  const rounds = 10;
  const start = Date.now();
  for (let i = 0; i < rounds; i++) await target.exec('true');
  t.log(`exec round trip: ${((Date.now() - start) / rounds).toFixed(0)} ms`);
});

test.serial(
  '[vm] concurrent execs on one connection: each runs once with its stdin (dropbear drops some channels)',
  (t) => assertConcurrentExecsRunOnce(t, target),
);

test.serial(
  '[vm] more commands at once than command shells: each runs once and gets exactly its own output and code',
  (t) => assertConcurrentCommandsExact(t, target),
);

test.serial(
  '[vm] exec timeout kills the whole command tree in the guest, not only the channel',
  (t) => assertTimeoutKillsTheCommandTree(t, target),
);

test.serial('[vm] spawn streams lines, takes stdin, and kill ends it', (t) =>
  assertSpawnStreamsAndKills(t, target),
);

test.serial('[vm] upload round-trips a binary file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-up-'));
  const file = join(dir, 'blob');
  writeFileSync(file, Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff)));
  await target.upload(file, '/tmp/x/blob', 0o600);
  const r = await target.exec('sha256sum /tmp/x/blob; stat -c %a /tmp/x/blob');
  t.true(r.stdout.startsWith(createHash('sha256').update(readFileSync(file)).digest('hex')));
  t.regex(r.stdout, /^600$/m);
});

test.serial('[vm] a host key other than the pinned one is refused', async (t) => {
  const access = target.access!;
  const wrong = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFnreaPfZwhkCx4JACv0OqfidDEufM2rwuULkviqqMgU';
  await t.throwsAsync(SshConnection.connect({ ...access, hostKey: wrong }), {
    message: /does not match the pinned key/,
  });
  const ok = await SshConnection.connect(access);
  ok.close();
  t.pass();
});

test.serial(
  '[vm] dm-flakey smoke: a synced file survives, a write made while the device drops writes is lost',
  async (t) => {
    const sh = (command: string) => target.exec(command, { timeoutMs: 120_000 });
    await sh(`set -e
      truncate -s 64M /tmp/smoke.img
      loop=$(losetup --find --show /tmp/smoke.img); echo $loop > /tmp/smoke.loop
      sectors=$(blockdev --getsz $loop)
      echo "0 $sectors linear $loop 0" | dmsetup create powercut-smoke
      mkfs.ext4 -q /dev/mapper/powercut-smoke
      mkdir -p /mnt/smoke && mount /dev/mapper/powercut-smoke /mnt/smoke
      echo kept > /mnt/smoke/kept && sync`);
    // up 0 s, down 1 s: always "down"; drop_writes acknowledges writes and discards them.
    await sh(`set -e
      loop=$(cat /tmp/smoke.loop); sectors=$(blockdev --getsz $loop)
      dmsetup suspend --nolockfs powercut-smoke
      echo "0 $sectors flakey $loop 0 0 1 1 drop_writes" | dmsetup load powercut-smoke
      dmsetup resume powercut-smoke
      echo lost > /mnt/smoke/lost && sync /mnt/smoke/lost`);
    const flakeyTable = await sh('dmsetup table powercut-smoke');
    t.regex(flakeyTable.stdout, /flakey .* drop_writes/);
    await sh(`set -e
      loop=$(cat /tmp/smoke.loop); sectors=$(blockdev --getsz $loop)
      umount /mnt/smoke
      dmsetup suspend --nolockfs powercut-smoke
      echo "0 $sectors linear $loop 0" | dmsetup load powercut-smoke
      dmsetup resume powercut-smoke
      echo 3 > /proc/sys/vm/drop_caches
      mount /dev/mapper/powercut-smoke /mnt/smoke`);
    const after = await sh(
      'cat /mnt/smoke/kept; test -e /mnt/smoke/lost && echo lost-present || echo lost-absent',
    );
    t.is(after.stdout, 'kept\nlost-absent\n');
    await sh(
      'umount /mnt/smoke; dmsetup remove powercut-smoke; losetup -d $(cat /tmp/smoke.loop); rm -f /tmp/smoke.img',
    );
  },
);
