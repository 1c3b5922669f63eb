import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { Client, type ClientChannel } from 'ssh2';
import { HarnessError } from '../errors.ts';
import type { ExecOptions, ExecResult, RemoteProcess } from './target.ts';
import { lineStream } from './lines.ts';
import { startTimeOf } from '../device/guards.ts';

export type SshOptions = {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** `ssh-ed25519 AAAA...`: when given, any other host key is refused (pinned). */
  hostKey?: string;
  readyTimeoutMs?: number;
  /** Prefix for every command (e.g. `sudo -n` for a non-root user). */
  commandPrefix?: string;
};

/**
 * One ssh2 connection per target; every command is a channel on it (~65 ms per exec against
 * ~0.2 s per new connection, measured in VM-NOTES).
 */
export class SshConnection {
  private constructor(
    private readonly client: Client,
    private readonly options: SshOptions,
  ) {}

  static async connect(options: SshOptions): Promise<SshConnection> {
    const privateKey = await readFile(options.privateKeyPath);
    const pinned = options.hostKey
      ? Buffer.from(options.hostKey.trim().split(/\s+/)[1] ?? '', 'base64')
      : undefined;
    const client = new Client();
    let hostKeyMismatch = false;
    await new Promise<void>((resolve, reject) => {
      client
        .once('ready', () => resolve())
        // `on`, not `once`: ssh2 can emit a second error for one failed handshake.
        .on('error', (error) =>
          reject(
            hostKeyMismatch
              ? new HarnessError(
                  `host key of ${options.host}:${options.port} does not match the pinned key; refusing to connect`,
                )
              : new HarnessError(
                  `ssh to ${options.username}@${options.host}:${options.port} failed: ${error.message}`,
                  { cause: error },
                ),
          ),
        )
        .connect({
          host: options.host,
          port: options.port,
          username: options.username,
          privateKey,
          readyTimeout: options.readyTimeoutMs ?? 20_000,
          keepaliveInterval: 5_000,
          ...(pinned
            ? {
                hostVerifier: (key: Buffer) => {
                  hostKeyMismatch = !key.equals(pinned);
                  return !hostKeyMismatch;
                },
              }
            : {}),
        });
    });
    return new SshConnection(client, options);
  }

  private wrap(command: string): string {
    return this.options.commandPrefix
      ? `${this.options.commandPrefix} sh -c ${shellQuote(command)}`
      : command;
  }

  private channel(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(this.wrap(command), (error, channel) =>
        error
          ? reject(new HarnessError(`ssh exec failed: ${error.message}`, { cause: error }))
          : resolve(channel),
      );
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const channel = await this.channel(command);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    channel.on('data', (d: Buffer) => stdout.push(d));
    channel.stderr.on('data', (d: Buffer) => stderr.push(d));
    let code: number | null = null;
    let signal: string | undefined;
    channel.on('exit', (c: number | null, s?: string) => {
      code = c ?? null;
      signal = s;
    });
    const done = new Promise<ExecResult>((resolve) =>
      channel.on('close', () =>
        resolve({
          command,
          code,
          ...(signal ? { signal } : {}),
          stdout: Buffer.concat(stdout).toString(),
          stderr: Buffer.concat(stderr).toString(),
        }),
      ),
    );
    if (options.stdin !== undefined) channel.end(options.stdin);
    else channel.end();
    const result = options.timeoutMs
      ? await withTimeout(done, options.timeoutMs, command, () => channel.close())
      : await done;
    return checkResult(result, options.check ?? true);
  }

  /**
   * Runs a long command with streaming stdout and an open stdin. kill() goes through its pid
   * (dropbear ignores channel signals), guarded by the start time read when it started, so a
   * recycled pid is never hit.
   */
  async spawn(command: string): Promise<RemoteProcess> {
    const channel = await this.channel(`echo $$ ${startTimeOf('$$')}; exec ${command}`);
    const stderr: Buffer[] = [];
    channel.stderr.on('data', (d: Buffer) => stderr.push(d));
    const out = new PassThrough();
    channel.pipe(out);
    const lines = lineStream(out);
    const first = await lines.next();
    const [pidText, startTime = ''] = first.done ? [] : first.value.split(' ');
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || !/^\d+$/.test(startTime))
      throw new HarnessError(
        `could not start \`${command}\`: ${Buffer.concat(stderr).toString().trim()}`,
      );
    const done = new Promise<ExecResult>((resolve) => {
      let code: number | null = null;
      channel.on('exit', (c: number | null) => (code = c ?? null));
      channel.on('close', () =>
        resolve({ command, code, stdout: '', stderr: Buffer.concat(stderr).toString() }),
      );
    });
    const iterable: AsyncIterable<string> = { [Symbol.asyncIterator]: () => lines };
    return {
      stdin: channel,
      lines: iterable,
      done,
      pid,
      kill: async (signal = 'KILL') => {
        await this.exec(
          `[ "${startTimeOf(String(pid))}" = ${startTime} ] && kill -${signal} ${pid} 2>/dev/null; true`,
        );
      },
    };
  }

  async upload(localPath: string, remotePath: string, mode = 0o644): Promise<void> {
    const data = await readFile(localPath);
    const dir = remotePath.slice(0, remotePath.lastIndexOf('/')) || '/';
    // Unique per upload: several connections of one process may upload the same file at once.
    const tmp = `${remotePath}.upload.${process.pid}.${randomBytes(4).toString('hex')}`;
    await this.exec(
      `mkdir -p ${shellQuote(dir)} && cat > ${shellQuote(tmp)} && chmod ${mode.toString(8)} ${shellQuote(tmp)} && mv ${shellQuote(tmp)} ${shellQuote(remotePath)}`,
      { stdin: data, timeoutMs: 300_000 },
    );
  }

  close(): void {
    this.client.end();
  }
}

export const shellQuote = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

export function checkResult(result: ExecResult, check: boolean): ExecResult {
  if (check && result.code !== 0) {
    const why = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new HarnessError(
      `\`${result.command}\` exited ${result.code ?? result.signal ?? 'without a code'}${why ? `: ${why}` : ''}`,
    );
  }
  return result;
}

export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new HarnessError(`\`${what}\` timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
