import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { Client, type ClientChannel } from 'ssh2';
import { HarnessError } from '../errors.ts';
import { withTimeout } from '../timeout.ts';
import { checkResult } from './exec-result.ts';
import type { ExecOptions, ExecResult, RemoteProcess } from './target.ts';
import { lineStream } from './lines.ts';
import { startTimeOf } from '../device/guards.ts';
import { shellQuote } from './shell.ts';
import { identifySelf, killTreeScript, splitIdentity, type ExecIdentity } from './exec-identity.ts';
import { CommandShell } from './command-shell.ts';
import { ShellPool } from './shell-pool.ts';

export type SshOptions = {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** `ssh-ed25519 AAAA...`: when given, any other host key is refused (pinned). */
  hostKey?: string;
  readyTimeoutMs?: number;
  /**
   * How long the server may take to answer an exec, and a command shell to report itself:
   * milliseconds normally, seconds in a loaded TCG guest. Past it the command fails as a
   * harness error instead of hanging before its own timeout starts. Default 60 s.
   */
  answerTimeoutMs?: number;
  /** Prefix for every command (e.g. `sudo -n` for a non-root user). */
  commandPrefix?: string;
};

/**
 * One ssh2 connection per target (~0.2 s per new connection, measured in VM-NOTES). A command
 * without stdin runs in one of its long-lived command shells (command-shell.ts: 1-10 ms); one
 * with stdin, a spawn, or one that finds every shell busy gets a channel of its own (56-83 ms
 * an exec in the TCG guest).
 */
export class SshConnection {
  private readonly shells = new ShellPool(() => this.startShell());

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

  private get answerMs(): number {
    return this.options.answerTimeoutMs ?? 60_000;
  }

  private wrap(command: string): string {
    const body = this.options.commandPrefix
      ? `${this.options.commandPrefix} sh -c ${shellQuote(command)}`
      : command;
    return `${awaitGoLine}\n${body}`;
  }

  /**
   * Opens a channel and starts `command` on it. The command waits for a go line, sent once the
   * server has accepted the exec; an exec the server dropped ran nothing and is tried again.
   * An error names the command as `named` (the caller's command, not the lines wrapped around it).
   */
  private async channel(command: string, named = command): Promise<ClientChannel> {
    for (let attempt = 1; ; attempt++) {
      try {
        const channel = await this.openExec(command);
        channel.write(goLine);
        return channel;
      } catch (error) {
        if (!(error instanceof ExecDropped) || attempt >= execAttempts)
          throw new HarnessError(
            `ssh exec of \`${named.split('\n', 1)[0]}\` failed: ${(error as Error).message}`,
            { cause: error },
          );
      }
    }
  }

  /**
   * The server's answer to an exec, within answerMs. One that never comes would hang the
   * command before any timeout of its own has started; the command ran nothing yet (it waits
   * for the go line), so giving up is safe, and a channel that comes later is closed unused.
   */
  private openExec(command: string): Promise<ClientChannel> {
    const answerMs = this.answerMs;
    return new Promise((resolve, reject) => {
      let abandoned = false;
      const timer = setTimeout(() => {
        abandoned = true;
        reject(new Error(`the server did not answer the exec in ${answerMs / 1000} s`));
      }, answerMs);
      try {
        this.client.exec(this.wrap(command), (error, channel) => {
          clearTimeout(timer);
          if (abandoned) channel?.close();
          else if (error)
            reject(error.message === 'Unable to exec' ? new ExecDropped(error.message) : error);
          else resolve(channel);
        });
      } catch (error) {
        clearTimeout(timer);
        reject(error as Error);
      }
    });
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return (
      (await this.shells.exec(command, options)) ?? (await this.execOnChannel(command, options))
    );
  }

  /** A command on a channel of its own: its own shell, stdin and timeout kill. */
  private async execOnChannel(command: string, options: ExecOptions): Promise<ExecResult> {
    const timed = options.timeoutMs !== undefined;
    // A timed command names its process group first, so a timeout can kill all of it.
    const channel = await this.channel(timed ? `${identifySelf}\n${command}` : command, command);
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
          stderr: splitIdentity(Buffer.concat(stderr).toString()).rest,
        }),
      ),
    );
    if (options.stdin !== undefined) channel.end(options.stdin);
    else channel.end();
    const result = timed
      ? await withTimeout(done, options.timeoutMs!, `\`${command}\``, async () => {
          channel.close();
          const { identity } = splitIdentity(Buffer.concat(stderr).toString());
          if (identity) await this.execOnChannel(killTreeScript(identity), { check: false });
        })
      : await done;
    return checkResult(result, options.check ?? true);
  }

  /**
   * Runs a long command with streaming stdout and an open stdin. kill() goes through its pid
   * (dropbear ignores channel signals), guarded by the start time read when it started, so a
   * recycled pid is never hit.
   */
  async spawn(command: string): Promise<RemoteProcess> {
    const channel = await this.channel(`echo $$ ${startTimeOf('$$')}; exec ${command}`, command);
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

  /**
   * A command shell on a channel of its own: `sh` reading commands from the channel's stdin,
   * its identity (pid, start time) reported first so a timeout can end its tree.
   */
  private async startShell(): Promise<CommandShell> {
    const answerMs = this.answerMs;
    const channel = await this.channel(`${identifySelf}\nexec sh`, 'sh (a command shell)');
    const identity = await new Promise<ExecIdentity>((resolve, reject) => {
      let text = '';
      const stop = () => {
        clearTimeout(timer);
        channel.stderr.off('data', onData);
        channel.off('close', onClose);
      };
      // A shell that never reports itself is given up (the pool then runs commands on
      // channels): closing its channel ends its stdin, so it runs nothing.
      const timer = setTimeout(() => {
        stop();
        channel.close();
        reject(new HarnessError(`the command shell did not start in ${answerMs / 1000} s`));
      }, answerMs);
      const onData = (d: Buffer) => {
        text += d.toString();
        if (!text.includes('\n')) return;
        stop();
        const { identity } = splitIdentity(text);
        if (identity) resolve(identity);
        else reject(new HarnessError(`the command shell did not start: ${text.trim()}`));
      };
      const onClose = () => {
        stop();
        reject(new HarnessError(`the command shell did not start: ${text.trim()}`));
      };
      channel.stderr.on('data', onData);
      channel.on('close', onClose);
    });
    return new CommandShell({
      stdin: channel,
      stdout: channel,
      stderr: channel.stderr,
      exited: new Promise((resolve) => channel.once('exit', resolve)),
      killTree: async () => {
        channel.close();
        await this.execOnChannel(killTreeScript(identity), { check: false });
      },
    });
  }

  close(): void {
    this.shells.close();
    this.client.end();
  }
}

/**
 * Why every command waits for a go line: dropbear 2022.83 (Debian 12's, in the embedded guest)
 * can close a new session channel before its exec request arrives, when another channel's
 * command exits in between, and then still starts the command on that closed channel, without
 * its stdin (fixed upstream: dropbear 71521d1b, "Don't close channels when a PID hasn't
 * started"). ssh2 reports it as "Unable to exec". A command that waits for the go line ran
 * nothing when its channel was dropped, so the exec is safe to try again.
 */
const awaitGoLine = 'read -r __pc_go || exit 1';
const goLine = 'go\n';
const execAttempts = 5;

/** The server dropped the channel before accepting the exec (see awaitGoLine). */
class ExecDropped extends Error {}

export { shellQuote } from './shell.ts';
