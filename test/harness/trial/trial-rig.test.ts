import test from 'ava';
import { TrialRig } from '../../../src/harness/trial/trial-rig.ts';
import { plans } from './vm-helpers.ts';
import { fakeLoopMachine, type FakeTarget } from '../fake-target.ts';

// The rig's order of work on a machine that runs nothing (FakeTarget): what it creates, in
// which order, and that it removes all of it, in reverse, however the trial ends.

const plan = plans(
  'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: drop_writes }\n',
)[0]!;

type Outcome = { log: string[]; cleanupFailures?: string[] };

/** Where `pattern` first occurs in everything the rig ran, in order (fails when nowhere). */
const at = (target: FakeTarget, pattern: RegExp): number => {
  const transcript = target.commands.join('\n');
  const i = transcript.search(pattern);
  if (i < 0) throw new Error(`nothing matches ${pattern} in:\n${transcript}`);
  return i;
};

test('mkfs only on a loop device verified as ours, then mount; use() removes it all, newest first', async (t) => {
  const target = fakeLoopMachine();
  const rig = await TrialRig.create(target, plan);
  const device = rig.faultDevice;
  const result = await rig.use(async (): Promise<Outcome> => ({ log: ['body ran'] }));
  t.deepEqual(result.log, ['body ran']);
  t.is(result.cleanupFailures, undefined);
  // One script: the loop device made, checked to be backed by our file, the dm table over it,
  // then mkfs, mount, the synced store.
  const format = target.commands.find((c) => /^mkfs\.ext4 /m.test(c))!;
  const loop = format.search(/^L=\$\(losetup --find --show /m);
  const verify = format.search(
    new RegExp(
      `^d="\\$L"; f=/sys/block/.*losetup -n -O BACK-FILE "\\$d".*; \\[ "\\$b" = ${device.names.backingFile} \\] \\|\\| .*exit 1`,
      'm',
    ),
  );
  const table = format.search(/powercut-dm create powercut-/);
  const mkfs = format.search(new RegExp(`^mkfs\\.ext4 .*${device.path}$`, 'm'));
  const mount = format.search(/\bmount -t ext4 /);
  const store = format.search(
    new RegExp(
      `^dd if=/dev/zero of='?${rig.store}'? .*conv=fsync.* && sync -f '?${rig.store}'?$`,
      'm',
    ),
  );
  t.true(
    loop >= 0 && loop < verify && verify < table && table < mkfs && mkfs < mount && mount < store,
    format,
  );
  t.is(rig.store, `${device.mountPoint}/store.db`);
  t.true(format.startsWith('set -e\n'), 'a failed check stops the script');
  // Removal, newest first: the mount, the dm table, the loop, the backing directory.
  const umount = at(target, /umount .*powercut-/);
  const removeTable = at(target, /powercut-dm remove powercut-/);
  const detach = at(target, /losetup -d "\$d"/);
  const dir = at(target, /^rm -rf \/var\/tmp\/powercut\/[a-z0-9]+$/m);
  t.true(umount < removeTable && removeTable < detach && detach < dir);
});

test('a failed mkfs leaves nothing behind, and its error is the one thrown', async (t) => {
  const target = fakeLoopMachine((c) => c.includes('mkfs.'));
  await t.throwsAsync(TrialRig.create(target, plan), { message: /mkfs\.ext4 [\s\S]* exited 1/ });
  t.false(
    target.commands.some((c) => /^mount -t/m.test(c) && !/^mkfs\./m.test(c)),
    'no mount of its own after the failed mkfs',
  );
  at(target, /powercut-dm remove powercut-/);
  at(target, /losetup -d "\$d"/);
  at(target, /^rm -rf \/var\/tmp\/powercut\//m);
});

test('a trial body that throws still removes the rig, and the body’s error is the one thrown', async (t) => {
  const target = fakeLoopMachine();
  const rig = await TrialRig.create(target, plan);
  await t.throwsAsync(
    rig.use(async (): Promise<Outcome> => {
      throw new Error('engine exploded');
    }),
    { message: 'engine exploded' },
  );
  at(target, /powercut-dm remove powercut-/);
  at(target, /^rm -rf \/var\/tmp\/powercut\//m);
});

test('a removal that fails is reported with the result (a harness error), never hidden', async (t) => {
  const target = fakeLoopMachine((c) => /^rm -rf \/var\/tmp\/powercut\/[a-z0-9]+$/m.test(c));
  const rig = await TrialRig.create(target, plan);
  const result = await rig.use(async (): Promise<Outcome> => ({ log: [] }));
  t.is(result.cleanupFailures?.length, 1);
  t.regex(result.log.join('\n'), /cleanup failed: backing files and loop devices: exited 1/);
});

test('the plug pull, the remount and the check are one round trip each, in the order that keeps the crash a crash', async (t) => {
  const target = fakeLoopMachine();
  const rig = await TrialRig.create(target, plan);
  await rig.use(async (): Promise<Outcome> => {
    let before = target.commands.length;
    await rig.pullPlug();
    // (The dm-flakey feature probe runs once per target, before its first table change.)
    const pullExecs = target.commands.slice(before).filter((c) => !c.includes(' flakey $L '));
    const [pull] = pullExecs;
    t.is(pullExecs.length, 1, 'one exec');
    const order = (script: string, parts: RegExp[]) => parts.map((p) => script.search(p));
    // drop_writes first, then the tracer killed, then unmounted (never lazily).
    const pullAt = order(pull!, [/powercut-dm reload/, /engine\.pid/, /umount /]);
    t.true(
      pullAt.every((at, i) => at >= 0 && (i === 0 || at > pullAt[i - 1]!)),
      pull,
    );
    t.false(/umount -l/.test(pull!));
    before = target.commands.length;
    await rig.remountAfterCrash();
    const [remount] = target.commands.slice(before);
    t.is(target.commands.length, before + 1, 'one exec');
    // Not mounted (checked first), then linear, then caches dropped, then mounted.
    const remountAt = order(remount!, [
      /mountinfo/,
      /powercut-dm reload/,
      /drop_caches/,
      /mount -t ext4/,
    ]);
    t.true(
      remountAt.every((at, i) => at >= 0 && (i === 0 || at > remountAt[i - 1]!)),
      remount,
    );
    t.false(/\bsync\b/.test(remount!), 'no global sync');
    before = target.commands.length;
    await rig.checkFilesystem();
    const [check] = target.commands.slice(before);
    t.is(target.commands.length, before + 1, 'one exec');
    const checkAt = order(check!, [/umount \/mnt\/powercut-/, /e2fsck -fn/]);
    t.true(checkAt[0]! >= 0 && checkAt[1]! > checkAt[0]!, check);
    return { log: [] };
  });
});

/** A fake machine whose pull-and-remount script prints `script` (what its shell would have). */
const pullingMachine = (script: { code?: number; stdout?: string; stderr?: string }) =>
  fakeLoopMachine(undefined, undefined, [
    (c) => (c.includes(`echo '${remountLine}'`) ? script : undefined),
  ]);
const remountLine = '--- powercut: remount ---';

test('pulled with thenRemount: the plug pull and the remount are one exec, the remount only after the unmount, in the same order', async (t) => {
  const target = pullingMachine({ stdout: `${remountLine}\n`, stderr: `${remountLine}\n` });
  const rig = await TrialRig.create(target, plan);
  await rig.use(async (): Promise<Outcome> => {
    const before = target.commands.length;
    await rig.pullPlug({ thenRemount: true });
    await rig.remountAfterCrash();
    const execs = target.commands.slice(before).filter((c) => !c.includes(' flakey $L '));
    t.is(execs.length, 1, 'one exec for both');
    const script = execs[0]!;
    const order = [
      /powercut-dm reload/,
      /engine\.pid/,
      /umount /,
      /\) \|\| exit \$\?/, // the remount only once the unmount succeeded
      new RegExp(remountLine),
      /linear \/dev\/loop7 0' \| \/opt\/powercut\/powercut-dm reload powercut-\w+ \|\| exit 92/,
      /drop_caches/,
      /mount -t ext4/,
    ].map((p) => script.search(p));
    t.true(
      order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
      script,
    );
    t.false(/umount -l/.test(script));
    return { log: [] };
  });
});

test("pulled with thenRemount: a mount that fails is the remount's outcome (MountFailed), an unmount that fails the pull's error", async (t) => {
  const failedMount = pullingMachine({
    code: 32,
    stdout: `${remountLine}\n`,
    stderr: `${remountLine}\nmount: /mnt/x: wrong fs type\n`,
  });
  const rig = await TrialRig.create(failedMount, plan);
  await rig.use(async (): Promise<Outcome> => {
    await rig.pullPlug({ thenRemount: true });
    const error = await t.throwsAsync(rig.remountAfterCrash());
    t.is(error!.constructor.name, 'MountFailed');
    t.regex(error!.message, /wrong fs type/);
    t.notRegex(error!.message, /powercut: remount/);
    return { log: [] };
  });
  const busy = pullingMachine({ code: 3, stderr: 'umount /mnt/x: target is busy; held by: 42\n' });
  const stuck = await TrialRig.create(busy, plan);
  await stuck.use(async (): Promise<Outcome> => {
    await t.throwsAsync(stuck.pullPlug({ thenRemount: true }), {
      message:
        /the plug was pulled but the filesystem did not unmount \(umount \/mnt\/x: target is busy; held by: 42\)/,
    });
    return { log: [] };
  });
});

test('the last check and the teardown are one exec: the check first, then the removal, newest first; use() runs nothing more', async (t) => {
  const target = fakeLoopMachine((c) => /^rm -rf \/var\/tmp\/powercut\/[a-z0-9]+$/m.test(c));
  const rig = await TrialRig.create(target, plan);
  let before = 0;
  let execCalls = 0;
  const exec = target.exec.bind(target);
  let inside = false; // the fake answers a batch's parts through exec again: not counted
  target.exec = async (...a) => {
    if (inside) return exec(...a);
    execCalls++;
    inside = true;
    try {
      return await exec(...a);
    } finally {
      inside = false;
    }
  };
  const result = await rig.use(async (): Promise<Outcome> => {
    before = target.commands.length;
    const checked = await rig.checkFilesystem(undefined, { last: true });
    t.true(checked.clean);
    return { log: [] };
  });
  t.is(execCalls, 1, 'one exec: the check and the whole teardown');
  const execs = target.commands.slice(before);
  // The fake answers the lead and each removal step alone; the real exec is one script.
  const [check, ...steps] = execs;
  t.regex(check!, /umount \/mnt\/powercut-\w+ \|\| exit 97\ne2fsck -fn /);
  const order = [/engine\.pid/, /umount .*powercut-/, /powercut-dm remove/, /losetup -d/].map((p) =>
    steps.findIndex((c) => p.test(c)),
  );
  t.true(
    order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
    steps.join('\n---\n'),
  );
  t.deepEqual(result.cleanupFailures, ['backing files and loop devices: exited 1']);
});

test('a filesystem that will not unmount after the plug pull fails the trial (a harness error)', async (t) => {
  const target = fakeLoopMachine((c) => c.includes('held by')); // the unmount's exit 3
  const rig = await TrialRig.create(target, plan);
  await rig.use(async (): Promise<Outcome> => {
    await t.throwsAsync(rig.pullPlug(), {
      message: /the plug was pulled but the filesystem did not unmount/,
    });
    return { log: [] };
  });
});
