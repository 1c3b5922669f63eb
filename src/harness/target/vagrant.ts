import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { shellQuote, SshConnection } from './ssh-connection.ts';
import { SshTarget } from './ssh.ts';
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

/**
 * Connects to the project's running Vagrant VM with ssh2, using `vagrant ssh-config`'s values,
 * then as root: one `sudo` puts powercut's own public key into the VM's root authorized_keys
 * (the project's own VM only; docs/safety.md), and every later command is a plain exec on a
 * root connection, not a `sudo -n sh -c` (~0.44 s each under TCG). Where sshd refuses root,
 * commands go through sudo as before.
 */
export async function startVagrantTarget(cwd: string): Promise<Target> {
  const result = await execa('vagrant', ['ssh-config'], { cwd, reject: false }).catch(() => null);
  if (!result || result.exitCode !== 0)
    throw new HarnessError('no running Vagrant VM here (`vagrant up` first)');
  const config = parseSshConfig(String(result.stdout));
  const at = `${config.host}:${config.port}`;
  const asUser = await SshConnection.connect({
    host: config.host,
    port: config.port,
    username: config.user,
    privateKeyPath: config.identityFile,
  });
  const key = await powercutKey();
  const publicKey = (await readFile(`${key}.pub`, 'utf8')).trim();
  try {
    await asUser.exec(
      `sudo -n sh -c 'umask 077; mkdir -p /root/.ssh; grep -qxF "$0" /root/.ssh/authorized_keys 2>/dev/null || echo "$0" >> /root/.ssh/authorized_keys' ${shellQuote(publicKey)}`,
      { timeoutMs: 60_000 },
    );
    const asRoot = await SshConnection.connect({
      host: config.host,
      port: config.port,
      username: 'root',
      privateKeyPath: key,
    });
    asUser.close();
    return new SshTarget('vagrant', `vagrant ${at} (root)`, asRoot);
  } catch {
    asUser.close();
    const viaSudo = await SshConnection.connect({
      host: config.host,
      port: config.port,
      username: config.user,
      privateKeyPath: config.identityFile,
      commandPrefix: 'sudo -n',
    });
    return new SshTarget('vagrant', `vagrant ${at} (${config.user}, sudo)`, viaSudo);
  }
}

/** powercut's own ssh key (~/.cache/powercut/ssh/id_ed25519), made on first use. */
async function powercutKey(): Promise<string> {
  const dir = join(process.env.POWERCUT_CACHE ?? join(homedir(), '.cache', 'powercut'), 'ssh');
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'powercut', '-f', key]);
  }
  return key;
}
