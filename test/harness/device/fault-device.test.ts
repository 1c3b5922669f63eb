import test from 'ava';
import { createFaultDevice, dmToolPath } from '../../../src/harness/device/fault-device.ts';
import { ownerOfRun } from '../../../src/harness/device/names.ts';
import { ownership } from '../../../src/harness/device/ownership.ts';
import { FakeTarget, fakeLoopMachine } from '../fake-target.ts';

const fakeMachine = fakeLoopMachine;

/**
 * Every resource a command names must be one this owner created: dm tables and mount points
 * `powercut-<run>`, files under /var/tmp/powercut/<run>/, loop devices losetup gave it, and
 * processes only by a pid file of its own, guarded by start time. Never fuser/pkill/killall,
 * never a glob.
 */
function assertOnlyOwn(t: import('ava').ExecutionContext, target: FakeTarget, owner: string): void {
  for (const command of target.commands) {
    t.notRegex(command, /\bfuser\s+-\w*k|\bpkill\b|\bkillall\b/, command);
    t.notRegex(
      command,
      /\b(rm|rmdir|umount|losetup -d)\b[^\n]*\*/,
      `no glob in removals: ${command}`,
    );
    // powercut's own tools in /opt/powercut are not run-named resources.
    for (const m of command.replaceAll(dmToolPath, '').matchAll(/powercut-([a-z0-9]+)/g))
      t.is(ownerOfRun(m[1]!), owner, `table/mount ${m[0]} in: ${command}`);
    for (const m of command.matchAll(/\/var\/tmp\/powercut\/([a-z0-9]+)/g))
      t.true(m[1] === 'owners' || ownerOfRun(m[1]!) === owner, `path ${m[0]} in: ${command}`);
    for (const m of command.matchAll(/\/dev\/loop(\d+)/g))
      t.true(['7', '8'].includes(m[1]!), `loop device ${m[0]} in: ${command}`);
    for (const m of command.matchAll(/kill -\w+ (\S+)/g))
      t.true(['$p', '${pid}'].includes(m[1]!) || /^\d+$/.test(m[1]!), `kill target ${m[1]}`);
    if (/\bkill -/.test(command))
      t.regex(command, /\/proc\/\$?\w+\/stat/, `a kill is guarded by the start time: ${command}`);
  }
}

test('a fault device names only what its own run created, in every command up to its removal', async (t) => {
  const target = fakeMachine();
  const device = await createFaultDevice(target, { sizeBytes: 64 << 20, logWrites: true });
  await device.arm({ kind: 'drop_writes' });
  await device.disarm();
  await device.mark('ack:1');
  t.deepEqual(await device.destroy(), []);
  const owner = (await ownership(target)).ownerId;
  t.is(ownerOfRun(device.names.runId), owner);
  assertOnlyOwn(t, target, owner);
  // The mount is unmounted only if the kernel's mount table lists it, never by a path check.
  const unmount = target.commands.find((c) => c.includes(`umount ${device.mountPoint}`))!;
  t.regex(unmount, /\/proc\/self\/mountinfo/);
  t.notRegex(unmount, /fuser -\w*k/);
});

test('only a device that records with dm-log-writes has marks, in the types and at run time', async (t) => {
  const flakey = await createFaultDevice(fakeMachine(), { sizeBytes: 64 << 20 });
  // @ts-expect-error a dm-flakey device cannot be asked for a mark (tsc checks this line)
  t.is(flakey.mark, undefined);
  t.false('logLoopDevice' in flakey);
  t.deepEqual(await flakey.destroy(), []);
});

test('undo steps run newest first, once, and every failure is reported while the rest still run', async (t) => {
  const target = fakeMachine((c) => c.includes('dmsetup info'));
  const device = await createFaultDevice(target, { sizeBytes: 64 << 20 });
  const before = target.commands.length;
  const failures = await device.destroy();
  t.is(failures.length, 1);
  t.regex(failures[0]!, /^dm table: /);
  const undone = target.commands.slice(before);
  const at = (text: string): number => undone.findIndex((c) => c.includes(text));
  // engine process → mount → dm table → loops and files: the reverse of creation.
  t.true(at('engine.pid') < at('umount'));
  t.true(at('umount') < at('dmsetup info'));
  t.true(at('dmsetup info') < at('losetup -d'), 'the loop devices were still detached');
  t.deepEqual(await device.destroy(), failures, 'a second destroy reports the same, runs nothing');
  t.is(target.commands.length, before + undone.length);
});

test('a device whose creation fails half-way removes what it created and says what it could not', async (t) => {
  const target = fakeMachine((c) => c.includes('dmsetup create') || c.includes('dmsetup info'));
  const error = await t.throwsAsync(createFaultDevice(target, { sizeBytes: 64 << 20 }));
  t.regex(error!.message, /and its cleanup failed: dm table/);
  t.true(
    target.commands.some((c) => c.includes('losetup -d')),
    'loop devices detached',
  );
  assertOnlyOwn(t, target, (await ownership(target)).ownerId);
});

test('table reloads never overlap: an arm still in flight finishes before the plug pull starts', async (t) => {
  // Every reload takes 50 ms on this fake machine.
  const slow = fakeMachine(undefined, (c) => (c.includes('powercut-dm reload') ? 50 : 0));
  const device = await createFaultDevice(slow, { sizeBytes: 64 << 20 });
  // An arm and the plug pull (an arm of drop_writes) asked for at once, then a disarm.
  await Promise.all([
    device.arm({ kind: 'error_writes' }),
    device.arm({ kind: 'drop_writes' }),
    device.disarm(),
  ]);
  const reloads = slow.timeline.filter((e) => e.includes('powercut-dm reload'));
  t.is(reloads.length, 6);
  for (let i = 0; i < reloads.length; i += 2) {
    t.true(reloads[i]!.startsWith('start '), reloads.join('\n'));
    t.true(reloads[i + 1]!.startsWith('end '), 'each reload ends before the next starts');
  }
  t.regex(reloads[0]!, /error_writes/, 'in the order asked');
  t.regex(reloads[2]!, /drop_writes/);
  t.regex(reloads[4]!, /linear/);
  await device.destroy();
});
