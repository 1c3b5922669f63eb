import type { Writable } from 'node:stream';

/** What finished: exit code (null if killed by a signal), and the collected output. */
export type ExecResult = {
  command: string;
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
};

export type ExecOptions = {
  /** Written to the command's stdin, which is then closed. */
  stdin?: string | Uint8Array;
  /** Fail with a HarnessError after this long (the remote command is killed). */
  timeoutMs?: number;
  /** Throw a HarnessError (with the command, code and stderr) when the exit code is not 0. Default true. */
  check?: boolean;
  /**
   * Run it as a process of its own (an ssh channel, a spawn), not in a command shell: for a
   * command powercut did not write (a user's engine), which may leave a process behind that
   * still writes to its output. It is then waited for like any exec's.
   */
  ownProcess?: boolean;
};

/** A long-running command with streaming stdout and an open stdin (the engine's `run`). */
export interface RemoteProcess {
  readonly stdin: Writable;
  /** stdout split into lines as they arrive. */
  readonly lines: AsyncIterable<string>;
  /** Resolves when the process ends (stdout/stderr are whatever was not consumed as lines). */
  readonly done: Promise<ExecResult>;
  /** Its pid in the target. */
  readonly pid: number;
  /** Kill the remote process (SIGKILL by default): the "pull the plug" step. */
  kill(signal?: 'KILL' | 'TERM' | 'INT'): Promise<void>;
}

/**
 * A machine with a Linux kernel where powercut runs its trials (Jepsen's `control`):
 * qemu (embedded default), vagrant, ssh (any host), local (root on a kernel with dm-flakey).
 * Commands run as root through `sh -c`.
 */
export interface Target {
  readonly kind: 'qemu' | 'vagrant' | 'ssh' | 'local';
  /** Human-readable description for logs ("qemu tcg pid 1234 on 127.0.0.1:40022"). */
  readonly description: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  spawn(command: string): Promise<RemoteProcess>;
  /** Copies a local file to `remotePath` (parent directories created), with `mode` (default 0o644). */
  upload(localPath: string, remotePath: string, mode?: number): Promise<void>;
  teardown(): Promise<void>;
}
