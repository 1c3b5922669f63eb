import { HarnessError } from '../errors.ts';
import { SshConnection, type SshOptions } from './ssh-connection.ts';
import type { ExecOptions, ExecResult, RemoteProcess, Target } from './target.ts';

/** A Target over one ssh2 connection: the qemu guest, a Vagrant VM, or any Linux host. */
export class SshTarget implements Target {
  private closed = false;
  constructor(
    readonly kind: Target['kind'],
    readonly description: string,
    private readonly connection: SshConnection,
    private readonly onTeardown: () => Promise<void> = async () => undefined,
    /** How another process can reach the same machine (used to hand the guest to a child run). */
    readonly access?: {
      host: string;
      port: number;
      username: string;
      privateKeyPath: string;
      hostKey?: string;
    },
  ) {}

  exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    if (this.closed)
      return Promise.reject(new HarnessError(`target ${this.description} was torn down`));
    return this.connection.exec(command, options);
  }

  spawn(command: string): Promise<RemoteProcess> {
    return this.connection.spawn(command);
  }

  upload(localPath: string, remotePath: string, mode?: number): Promise<void> {
    return this.connection.upload(localPath, remotePath, mode);
  }

  async teardown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.close();
    await this.onTeardown();
  }
}

/**
 * Any Linux host with dm-flakey, reached over ssh (`sudo -n` when the user is not root).
 * @example const target = await startSshTarget({ host: '127.0.0.1', port: 2222, username: 'vagrant', privateKeyPath: '~/.ssh/id' });
 */
export async function startSshTarget(options: SshOptions): Promise<Target> {
  const connection = await SshConnection.connect({
    ...options,
    ...(options.username !== 'root' && !options.commandPrefix ? { commandPrefix: 'sudo -n' } : {}),
  });
  return new SshTarget(
    'ssh',
    `ssh ${options.username}@${options.host}:${options.port}`,
    connection,
  );
}
