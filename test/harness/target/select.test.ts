import test from 'ava';
import { execa } from 'execa';
import { chooseAutoTarget, localHasFlakey } from '../../../src/harness/target/select.ts';
import { vagrantRunning } from '../../../src/harness/target/vagrant.ts';

const probes = (local: boolean, vagrant: boolean) => {
  const asked: string[] = [];
  return {
    asked,
    localHasFlakey: async () => (asked.push('local'), local),
    vagrantRunning: async () => (asked.push('vagrant'), vagrant),
  };
};

test('auto prefers the local kernel, then a running Vagrant VM, then qemu', async (t) => {
  t.is(await chooseAutoTarget(probes(true, true)), 'local');
  t.is(await chooseAutoTarget(probes(false, true)), 'vagrant');
  t.is(await chooseAutoTarget(probes(false, false)), 'qemu');
  const lazy = probes(true, false);
  await chooseAutoTarget(lazy);
  t.deepEqual(lazy.asked, ['local'], 'vagrant is not probed when local will do');
});

test('the real probes answer without throwing on a host lacking dm-flakey or vagrant', async (t) => {
  const module = await execa('modprobe', ['-n', 'dm-flakey'], { reject: false }).catch(() => null);
  if (module?.exitCode === 0) return t.pass('this kernel has dm-flakey: nothing to check');
  t.false(await localHasFlakey());
  t.false(await vagrantRunning('/nonexistent-dir'));
});
