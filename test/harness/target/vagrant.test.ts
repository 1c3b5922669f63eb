import test from 'ava';
import { parseSshConfig } from '../../../src/harness/target/vagrant.ts';
import { HarnessError } from '../../../src/harness/errors.ts';

test('vagrant ssh-config is parsed into ssh options', (t) => {
  const out = `Host default
  HostName 192.168.121.10
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  IdentityFile "/home/me/p/.vagrant/machines/default/libvirt/private_key"
  IdentitiesOnly yes`;
  t.deepEqual(parseSshConfig(out), {
    host: '192.168.121.10',
    port: 22,
    user: 'vagrant',
    identityFile: '/home/me/p/.vagrant/machines/default/libvirt/private_key',
  });
  t.throws(() => parseSshConfig('Host default\n  User vagrant\n'), { instanceOf: HarnessError });
});
