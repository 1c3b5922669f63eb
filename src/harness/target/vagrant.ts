import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { startSshTarget } from './ssh.ts';
import type { Target } from './target.ts';

export type SshConfig = { host: string; port: number; user: string; identityFile: string };

/** Parses `vagrant ssh-config` output (first host). */
export function parseSshConfig(text: string): SshConfig {
  const get = (key: string): string | undefined =>
    text.match(new RegExp(`^\\s*${key}\\s+"?([^"\\n]+)"?\\s*$`, 'mi'))?.[1]?.trim();
  const host = get('HostName');
  const port = Number(get('Port'));
  const user = get('User');
  const identityFile = get('IdentityFile');
  if (!host || !Number.isInteger(port) || !user || !identityFile) {
    throw new HarnessError(
      '`vagrant ssh-config` did not give HostName, Port, User and IdentityFile',
    );
  }
  return { host, port, user, identityFile };
}

/** True when `vagrant` is installed and the project's VM is running. */
export async function vagrantRunning(cwd: string): Promise<boolean> {
  const result = await execa('vagrant', ['status', '--machine-readable'], {
    cwd,
    reject: false,
  }).catch(() => null);
  return !!result && result.exitCode === 0 && /,state,running/.test(String(result.stdout));
}

/** Connects to the project's running Vagrant VM with ssh2, using `vagrant ssh-config`'s values. */
export async function startVagrantTarget(cwd: string): Promise<Target> {
  const result = await execa('vagrant', ['ssh-config'], { cwd, reject: false }).catch(() => null);
  if (!result || result.exitCode !== 0)
    throw new HarnessError('no running Vagrant VM here (`vagrant up` first)');
  const config = parseSshConfig(String(result.stdout));
  return startSshTarget({
    host: config.host,
    port: config.port,
    username: config.user,
    privateKeyPath: config.identityFile,
  });
}
