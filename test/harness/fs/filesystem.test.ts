import test from 'ava';
import { fsck } from '../../../src/harness/fs/filesystem.ts';
import type { FaultDevice } from '../../../src/harness/device/fault-device.ts';
import { FakeTarget } from '../fake-target.ts';

const device = { path: '/dev/mapper/powercut-abc' } as FaultDevice;
const marker = '--- powercut: filesystem check ---';

test('fsck with readFirst: one script, the read before the unmount before the check; the outputs apart', async (t) => {
  const target = new FakeTarget([
    () => ({ stdout: `QUJD\n${marker}\ne2fsck 1.47.0\n/dev/mapper/powercut-abc: clean\n` }),
  ]);
  const r = await fsck(target, device, 'ext4', {
    unmountFirst: '/mnt/powercut-abc',
    readFirst: 'head -c 3 /mnt/powercut-abc/store.db | base64 -w 0',
  });
  t.deepEqual(r, {
    clean: true,
    output: 'e2fsck 1.47.0\n/dev/mapper/powercut-abc: clean',
    read: 'QUJD',
  });
  t.is(target.commands.length, 1);
  const [script] = target.commands;
  const order = ['head -c 3', marker, 'umount /mnt/powercut-abc', 'e2fsck -fn'].map((p) =>
    script!.indexOf(p),
  );
  t.true(
    order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)),
    script,
  );
});

test('fsck: a failed read or unmount is a harness error, a dirty filesystem is an outcome', async (t) => {
  const answering = (code: number, stdout = '') => new FakeTarget([() => ({ code, stdout })]);
  await t.throwsAsync(fsck(answering(96), device, 'ext4', { readFirst: 'false' }), {
    message: /`false` failed before the filesystem check/,
  });
  await t.throwsAsync(fsck(answering(97), device, 'ext4', { unmountFirst: '/mnt/powercut-abc' }), {
    message: /`umount \/mnt\/powercut-abc` failed before the filesystem check/,
  });
  const dirty = await fsck(answering(4, `x\n${marker}\nproblems\n`), device, 'ext4', {
    readFirst: 'echo x',
  });
  t.like(dirty, { clean: false, output: 'problems', read: 'x' });
  await t.throwsAsync(fsck(answering(0, 'no marker'), device, 'ext4', { readFirst: 'echo x' }), {
    message: /printed no --- powercut: filesystem check --- line/,
  });
});
