import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { requirePackageRoot } from '../../package-root.ts';
import {
  discardSavedState,
  freshenRestoredGuest,
  restoreArgs,
  savedStatePath,
  saveGuestState,
  waitUntilRestored,
} from './saved-guest.ts';
import { SshConnection } from './ssh-connection.ts';
import { SshTarget } from './ssh.ts';

const projectRoot = requirePackageRoot();

export type QemuOptions = {
  /** An image directory from vm/build-image.sh; built (or found in the cache) when absent. */
  imageDir?: string;
  memoryMb?: number;
  /**
   * `auto` (default) is TCG unless POWERCUT_ACCEL=kvm: on our machines /dev/kvm opens but a
   * stock guest kernel fails under it (`failed to set MSR 0x10a`, VM-NOTES), so no probing.
   */
  accel?: 'tcg' | 'kvm' | 'auto';
  bootTimeoutMs?: number;
  /**
   * Start from (or, the first time, save) the image's ready guest: default true. Off also with
   * POWERCUT_COLD_BOOT=1.
   */
  savedState?: boolean;
  log?: (line: string) => void;
};

/** Builds the guest image if needed (cached by its inputs) and returns its directory. */
export async function ensureGuestImage(log?: (line: string) => void): Promise<string> {
  const result = await execa('bash', [join(projectRoot, 'vm/build-image.sh')], {
    reject: false,
    all: true,
  });
  if (result.exitCode !== 0) {
    throw new HarnessError(
      `vm/build-image.sh failed: ${String(result.all).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  const dir = String(result.stdout).trim().split('\n').at(-1)!;
  if (String(result.stderr).includes('built guest image')) log?.(`built guest image ${dir}`);
  return dir;
}

/**
 * Starts the embedded guest (Debian kernel + initramfs) under QEMU with its ssh port forwarded
 * to 127.0.0.1 only, connects with the image's key, and pins the image's host key.
 * The first boot of an image saves the ready guest (saved-guest.ts); later starts restore it,
 * and fall back to booting (replacing the saved state) if it does not come up.
 */
export async function startQemuTarget(options: QemuOptions = {}): Promise<SshTarget> {
  const imageDir = options.imageDir ?? (await ensureGuestImage(options.log));
  const accel =
    options.accel === 'tcg' || options.accel === 'kvm'
      ? options.accel
      : process.env.POWERCUT_ACCEL === 'kvm'
        ? 'kvm'
        : 'tcg';
  const machine = [
    '-accel',
    accel,
    '-m',
    String(options.memoryMb ?? 1536),
    '-smp',
    '1',
    // TCG's default CPU (qemu64) has no SSE4.2: the addon's crc32 instruction path was off in
    // the guest, and every page checksum (engine, server, explorer) ran in JavaScript.
    '-cpu',
    guestCpu,
    '-kernel',
    join(imageDir, 'vmlinuz'),
    '-initrd',
    join(imageDir, 'initramfs.cpio.gz'),
    '-append',
    'console=ttyS0 panic=-1 quiet',
    '-display',
    'none',
    '-no-reboot',
    '-nodefaults',
  ];
  const useSaved = (options.savedState ?? true) && process.env.POWERCUT_COLD_BOOT !== '1';
  const statePath = useSaved ? await savedStatePath(imageDir, machine) : undefined;
  if (statePath && existsSync(statePath)) {
    try {
      return await launch(imageDir, accel, machine, { restoreFrom: statePath }, options);
    } catch (error) {
      options.log?.(
        `the saved guest ${statePath} did not come up (${(error as Error).message}); booting instead`,
      );
      await discardSavedState(statePath);
    }
  }
  return launch(imageDir, accel, machine, statePath ? { saveTo: statePath } : {}, options);
}

/**
 * qemu64 plus what TCG emulates and the engines use: SSE4.2's crc32 (and popcnt, SSSE3/4.1).
 * The same model under KVM (any x86-64 host since 2008 has these), so a saved guest stays one.
 */
export const guestCpu = 'qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt';

async function launch(
  imageDir: string,
  accel: string,
  machine: string[],
  state: { restoreFrom?: string; saveTo?: string },
  options: QemuOptions,
): Promise<SshTarget> {
  const port = await freePort();
  const runDir = join(imageDir, 'runs', `${process.pid}-${port}`);
  await mkdir(runDir, { recursive: true });
  const consoleLog = join(runDir, 'console.log');
  const qmpSocket = join(runDir, 'qmp.sock');
  const qemuArgs = [
    ...machine,
    '-netdev',
    `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`,
    '-device',
    'virtio-net-pci,netdev=n0',
    '-serial',
    `file:${consoleLog}`,
    ...(state.restoreFrom ? restoreArgs(state.restoreFrom) : []),
    '-qmp',
    `unix:${qmpSocket},server=on,wait=off`,
  ];
  // A watchdog shell owns qemu and kills it when this process dies, even by SIGKILL.
  const watchdog = `qemu-system-x86_64 "$@" & q=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $q 2>/dev/null; do sleep 1; done; kill $q 2>/dev/null; wait $q`;
  const child = spawn('sh', ['-c', watchdog, 'qemu', ...qemuArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let qemuStderr = '';
  child.stderr?.on('data', (d: Buffer) => (qemuStderr += d.toString()));
  const started = Date.now();
  try {
    const hostKey = (await readFile(join(imageDir, 'host_key.pub'), 'utf8')).trim();
    const deadline = started + (state.restoreFrom ? 60_000 : (options.bootTimeoutMs ?? 180_000));
    if (state.restoreFrom) {
      const exited = new Promise<never>((_, reject) =>
        child.once('exit', () =>
          reject(new HarnessError(`qemu exited: ${qemuStderr.trim().split('\n').at(-1) ?? ''}`)),
        ),
      );
      exited.catch(() => undefined);
      await Promise.race([
        waitUntilRestored(qmpSocket, deadline, () => child.exitCode === null),
        exited,
      ]);
    }
    const connection = await waitForSsh(child, {
      port,
      privateKeyPath: join(imageDir, 'id_ed25519'),
      hostKey,
      // A restored guest printed its ready line before it was saved: no line to wait for.
      readyLine: !state.restoreFrom,
      deadline,
      consoleLog,
      stderr: () => qemuStderr,
      onReady: async () => {
        if (!state.saveTo || existsSync(state.saveTo)) return;
        const saving = Date.now();
        try {
          await saveGuestState(qmpSocket, state.saveTo);
          options.log?.(
            `saved the ready guest to ${state.saveTo} in ${((Date.now() - saving) / 1000).toFixed(1)} s`,
          );
        } catch (error) {
          // Saving only makes later starts faster: this guest boots on without it.
          options.log?.(`could not save the ready guest: ${(error as Error).message}`);
        }
      },
    });
    if (state.restoreFrom) await freshenRestoredGuest(connection);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    return new SshTarget(
      'qemu',
      `qemu ${accel} on 127.0.0.1:${port} (${state.restoreFrom ? 'restored' : 'booted'} in ${seconds} s)`,
      connection,
      async () => {
        await stopChild(child);
        // The console log is kept only when the boot failed (below) or qemu is still up.
        await rm(runDir, { recursive: true, force: true });
      },
      {
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKeyPath: join(imageDir, 'id_ed25519'),
        hostKey,
      },
    );
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** Printed by vm/guest-init.sh once dropbear is listening. */
const GUEST_READY = 'powercut-guest: ready';

async function waitForSsh(
  child: ChildProcess,
  o: {
    port: number;
    privateKeyPath: string;
    hostKey: string;
    readyLine: boolean;
    deadline: number;
    consoleLog: string;
    stderr: () => string;
    /** Runs once the guest printed its ready line, before the first connection. */
    onReady: () => Promise<void>;
  },
): Promise<SshConnection> {
  let last: unknown;
  const blindAfter = o.readyLine ? Date.now() + 60_000 : 0;
  let readySeen = false;
  while (Date.now() < o.deadline) {
    if (child.exitCode !== null) {
      throw new HarnessError(
        `qemu exited (${child.exitCode}) before the guest came up: ${o.stderr().trim().split('\n').at(-1) ?? ''}`,
      );
    }
    // Slirp accepts the forwarded port before the guest listens, so an early ssh attempt hangs
    // until its timeout: wait for /init's ready line (guessing blindly only if it never shows).
    if (!readySeen && Date.now() < blindAfter) {
      const console = await readFile(o.consoleLog, 'utf8').catch(() => '');
      if (!console.includes(GUEST_READY)) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      readySeen = true;
      await o.onReady();
    }
    try {
      return await SshConnection.connect({
        host: '127.0.0.1',
        port: o.port,
        username: 'root',
        privateKeyPath: o.privateKeyPath,
        hostKey: o.hostKey,
        readyTimeoutMs: 5_000,
      });
    } catch (error) {
      last = error;
      if (error instanceof HarnessError && error.message.includes('pinned')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const console = await readFile(o.consoleLog, 'utf8').catch(() => '');
  throw new HarnessError(
    `guest did not answer ssh on 127.0.0.1:${o.port} in time; console: ${console.trim().split('\n').slice(-3).join(' | ')}`,
    { cause: last },
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGTERM to the watchdog's process group is not enough when it sleeps: kill qemu via pkill.
  await execa('pkill', ['-TERM', '-P', String(child.pid)], { reject: false });
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
