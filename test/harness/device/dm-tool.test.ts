import test from 'ava';
import { dmToolPath } from '../../../src/harness/device/fault-device.ts';
import { removeOwnTableScript } from '../../../src/harness/device/guards.ts';
import { resourceNames } from '../../../src/harness/device/names.ts';
import { ownership } from '../../../src/harness/device/ownership.ts';
import { startQemuTarget } from '../../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../../src/harness/target/ssh.ts';
import { installGuestEngine } from '../../../src/harness/trial/guest-engine.ts';

// native/dm/powercut-dm.c on the guest's real device-mapper, beside dmsetup as the reference.
let guest: SshTarget | undefined;
const sh = (command: string, stdin?: string) =>
  guest!.exec(command, { timeoutMs: 120_000, check: false, ...(stdin ? { stdin } : {}) });

const table = 'powercut-dmtool';
let loop = '';
let sectors = 0;

test.before(async () => {
  guest = await startQemuTarget();
  await installGuestEngine(guest);
  const made = await sh(`set -e
    truncate -s 64M /tmp/dmtool.img
    L=$(losetup --find --show /tmp/dmtool.img)
    echo "0 $(blockdev --getsz $L) linear $L 0" | dmsetup create ${table}
    mkfs.ext4 -q /dev/mapper/${table}
    echo "$L $(blockdev --getsz $L)"`);
  if (made.code !== 0) throw new Error(made.stderr);
  [loop, sectors] = made.stdout.trim().split(' ') as [string, number];
  sectors = Number(sectors);
});
test.after.always(async () => {
  if (!guest) return;
  await sh(
    `umount /mnt/dmtool 2>/dev/null; dmsetup remove ${table}; losetup -d ${loop}; rm -f /tmp/dmtool.img`,
  );
  await guest.teardown();
});

const linear = () => `0 ${sectors} linear ${loop} 0`;
const dropping = () => `0 ${sectors} flakey ${loop} 0 0 1 1 drop_writes`;
/** `dmsetup info` then `dmsetup table`: whether the device runs (not suspended), on what. */
const state = async () => (await sh(`dmsetup info ${table}; dmsetup table ${table}`)).stdout;

/**
 * Mounts, writes one synced file and one that is only in the page cache, swaps to a dropping
 * table with `suspend` (a script reading the table on stdin), syncs, and reads back what a
 * remount on the linear table finds.
 */
async function afterSwap(suspend: string): Promise<string> {
  const swap = (to: string) => sh(suspend, `${to}\n`);
  const before = await sh(`set -e
    mkdir -p /mnt/dmtool && mount /dev/mapper/${table} /mnt/dmtool
    rm -f /mnt/dmtool/kept /mnt/dmtool/cached; echo kept > /mnt/dmtool/kept; sync
    echo cached > /mnt/dmtool/cached`);
  if (before.code !== 0) throw new Error(before.stderr);
  const swapped = await swap(dropping());
  if (swapped.code !== 0) throw new Error(swapped.stderr);
  await sh('sync; umount /mnt/dmtool');
  await swap(linear());
  const read = await sh(`set -e
    echo 3 > /proc/sys/vm/drop_caches; mount /dev/mapper/${table} /mnt/dmtool
    ls /mnt/dmtool | grep -v lost+found | tr '\\n' ' '; umount /mnt/dmtool`);
  return read.stdout.trim();
}

test.serial(
  '[vm] reload swaps the table without freezing the filesystem: a write still cached is lost, as with dmsetup suspend --nolockfs',
  async (t) => {
    t.is(await afterSwap(`${dmToolPath} reload ${table}`), 'kept');
    // The control: a suspend that freezes the filesystem flushes the cached write first.
    const freezing = `dmsetup suspend ${table} && dmsetup load ${table} && dmsetup resume ${table}`;
    t.is(await afterSwap(freezing), 'cached kept');
    t.regex(await state(), /State:\s+ACTIVE[\s\S]*^0 \d+ linear /m);
  },
);

test.serial('[vm] a table of several lines loads as dmsetup would read it', async (t) => {
  const half = Math.floor(sectors / 2);
  const two = `0 ${half} linear ${loop} 0\n${half} ${sectors - half} linear ${loop} ${half}\n`;
  const r = await sh(`${dmToolPath} reload ${table}`, two);
  t.is(r.code, 0, r.stderr);
  const lines = (await sh(`dmsetup table ${table}`)).stdout.trim().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[1]!, new RegExp(`^${half} ${sectors - half} linear \\S+ ${half}$`));
  t.is((await sh(`${dmToolPath} reload ${table}`, `${linear()}\n`)).code, 0);
});

test.serial(
  '[vm] a table the kernel refuses leaves the device running on its old table',
  async (t) => {
    const r = await sh(
      `${dmToolPath} reload ${table}`,
      `0 ${sectors} flakey ${loop} 0 0 1 1 no_such_feature\n`,
    );
    t.is(r.code, 1);
    t.regex(r.stderr, /powercut-dm: load powercut-dmtool: Invalid argument/);
    t.regex(await state(), /State:\s+ACTIVE[\s\S]*^0 \d+ linear /m, 'running, on the old table');
  },
);

test.serial('[vm] a malformed table or a usage error changes nothing and exits 2', async (t) => {
  for (const [args, stdin] of [
    [`reload ${table}`, 'not a table\n'],
    [`reload ${table}`, '\n'],
    ['reload', `${linear()}\n`],
    [`frobnicate ${table}`, `${linear()}\n`],
    [`create ${table}`, 'not a table\n'],
    ['reload vg0-root', `${linear()}\n`],
    ['remove vg0-root', ''],
    ['remove powercut-', ''],
  ] as const) {
    const r = await sh(`${dmToolPath} ${args}`, stdin);
    t.is(r.code, 2, `${args}: ${r.stderr}`);
    t.regex(await state(), /State:\s+ACTIVE[\s\S]*^0 \d+ linear /m, args);
  }
});

/** What is at /dev/mapper/NAME: `block MAJOR:MINOR`, `link TARGET`, `file`, or `none`. */
const node = async (name: string) =>
  (
    await sh(
      `p=/dev/mapper/${name}; if [ -L $p ]; then echo "link $(readlink $p)"; elif [ -b $p ]; then echo "block $(stat -c '%t:%T' $p)"; elif [ -e $p ]; then echo file; else echo none; fi`,
    )
  ).stdout.trim();
/** A dm device's MAJOR:MINOR in hex (stat's %t:%T), from dmsetup. */
const devOf = async (name: string) => {
  const m = /\((\d+):(\d+)\)/.exec(
    (await sh(`dmsetup info -c --noheadings -o name,devno ${name}; dmsetup ls`)).stdout
      .split('\n')
      .find((l) => l.startsWith(`${name}\t`)) ?? '',
  );
  return m ? `${Number(m[1]).toString(16)}:${Number(m[2]).toString(16)}` : 'none';
};

test.serial(
  '[vm] create makes a live table and its /dev/mapper node; remove takes both away',
  async (t) => {
    const own = resourceNames((await ownership(guest!)).newRunId());
    const made = await sh(`${dmToolPath} create ${own.table}`, `${linear()}\n`);
    t.is(made.code, 0, made.stderr);
    t.regex((await sh(`dmsetup info ${own.table}`)).stdout, /State:\s+ACTIVE/);
    t.regex((await sh(`dmsetup table ${own.table}`)).stdout, /^0 \d+ linear /);
    const dev = await devOf(own.table);
    t.not(dev, 'none');
    t.is(await node(own.table), `block ${dev}`, 'the node is the new device');
    // It is a usable device: a filesystem made through the node mounts.
    const used = await sh(
      `set -e; mkfs.ext4 -q /dev/mapper/${own.table}; mkdir -p /mnt/dmtool2; mount /dev/mapper/${own.table} /mnt/dmtool2; umount /mnt/dmtool2; rmdir /mnt/dmtool2`,
    );
    t.is(used.code, 0, used.stderr);
    const removed = await sh(`${dmToolPath} remove ${own.table}`);
    t.is(removed.code, 0, removed.stderr);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1, 'the table is gone');
    t.is(await node(own.table), 'none', 'and its node');
    const again = await sh(`${dmToolPath} remove ${own.table}`);
    t.is(again.code, 1, 'an absent table is an error');
    t.regex(again.stderr, /powercut-dm: status powercut-\w+: No such device or address/);
    t.regex(await state(), /State:\s+ACTIVE/, 'another table untouched');
  },
);

test.serial(
  '[vm] create with a table the kernel refuses, or over a node that is not its own, leaves nothing behind',
  async (t) => {
    const own = resourceNames((await ownership(guest!)).newRunId());
    const refused = await sh(
      `${dmToolPath} create ${own.table}`,
      `0 ${sectors} flakey ${loop} 0 0 1 1 no_such_feature\n`,
    );
    t.is(refused.code, 1);
    t.regex(refused.stderr, /powercut-dm: load powercut-\w+: Invalid argument/);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1, 'no device left');
    t.is(await node(own.table), 'none');
    // Something not made for the new device already at its /dev/mapper path is never used.
    await sh(`echo not-a-device > /dev/mapper/${own.table}`);
    const squatted = await sh(`${dmToolPath} create ${own.table}`, `${linear()}\n`);
    t.is(squatted.code, 1);
    t.regex(squatted.stderr, /exists and is not the new device/);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1, 'the new device was removed again');
    t.is(await node(own.table), 'file', 'and the file left alone');
    await sh(`rm -f /dev/mapper/${own.table}`);
  },
);

test.serial(
  '[vm] remove waits out a busy device, then fails and keeps it; a node that is not its own stays',
  async (t) => {
    const own = resourceNames((await ownership(guest!)).newRunId());
    t.is((await sh(`${dmToolPath} create ${own.table}`, `${linear()}\n`)).code, 0);
    // Held open for 2 s: remove retries through it and succeeds.
    const waited = await sh(
      `sleep 2 < /dev/mapper/${own.table} & sleep 0.2; ${dmToolPath} remove ${own.table}; echo "rc=$?"; wait`,
    );
    t.regex(waited.stdout, /rc=0/, waited.stderr);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1, 'removed once free');
    // Held open for longer than its ~5 s of retries: it gives up, the device stays.
    t.is((await sh(`${dmToolPath} create ${own.table}`, `${linear()}\n`)).code, 0);
    const held = await sh(
      `sleep 8 < /dev/mapper/${own.table} & h=$!; sleep 0.2; ${dmToolPath} remove ${own.table}; echo "rc=$?"; kill $h; wait`,
    );
    t.regex(held.stdout, /rc=1/);
    t.regex(held.stderr, /remove powercut-\w+: Device or resource busy/);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 0, 'still there');
    // Its node replaced by a file: the device goes, the file stays.
    await sh(`rm /dev/mapper/${own.table}; echo not-a-device > /dev/mapper/${own.table}`);
    t.is((await sh(`${dmToolPath} remove ${own.table}`)).code, 0);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1);
    t.is(await node(own.table), 'file');
    await sh(`rm -f /dev/mapper/${own.table}`);
  },
);

test.serial(
  '[vm] removeOwnTableScript: a table that exists is removed (found in sysfs), one that does not is left alone',
  async (t) => {
    const own = resourceNames((await ownership(guest!)).newRunId());
    const made = await sh(`echo "0 ${sectors} linear ${loop} 0" | dmsetup create ${own.table}`);
    t.is(made.code, 0, made.stderr);
    const removed = await sh(removeOwnTableScript(own.table));
    t.is(removed.code, 0, removed.stderr);
    t.is((await sh(`dmsetup info ${own.table}`)).code, 1, 'gone');
    const again = await sh(removeOwnTableScript(own.table));
    t.is(again.code, 0, 'absent: nothing to do');
    t.regex(await state(), /State:\s+ACTIVE/, 'another table untouched');
  },
);
