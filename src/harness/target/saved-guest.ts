import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { QmpClient } from './qmp.ts';
import { shellQuote, sh } from './shell.ts';
import type { SshConnection } from './ssh-connection.ts';

/**
 * A booted, idle embedded guest saved to a file (QEMU migration to `exec:cat`), so later guests
 * start from it with `-incoming` instead of booting: about 2.5 s to ssh instead of 11-22 s under
 * TCG. The guest has no disk (kernel + initramfs), so its RAM and devices are all its state.
 *
 * A saved state is only valid for the exact image and machine it came from, so its file is
 * named by a hash of the kernel's and initramfs' contents, QEMU's version and the machine
 * arguments (everything but the forwarded port and the console file).
 */

const stateSuffix = '.state';

/** The file a guest booted with `machineArgs` from `imageDir` is saved to (exists or not). */
export async function savedStatePath(imageDir: string, machineArgs: string[]): Promise<string> {
  const version = await execa('qemu-system-x86_64', ['--version'], { reject: false });
  const hash = createHash('sha256');
  hash.update(String(version.stdout).split('\n')[0] ?? '');
  hash.update(JSON.stringify(machineArgs));
  for (const file of ['vmlinuz', 'initramfs.cpio.gz'])
    hash.update(await contentHash(join(imageDir, file)));
  return join(imageDir, 'saved', `${hash.digest('hex').slice(0, 24)}${stateSuffix}`);
}

/** The extra qemu arguments that start a guest from `statePath` instead of booting it. */
export function restoreArgs(statePath: string): string[] {
  return ['-incoming', `exec:cat ${shellQuote(statePath)}`];
}

/**
 * Saves the running guest behind `qmpSocket` to `statePath` and lets it run on. The guest keeps
 * running during the copy (an idle guest converges at once), so the saved state is "running"
 * and a restored guest starts by itself. Written aside and renamed: a reader never sees half a
 * file. States of other images or machines in the same folder are removed.
 */
export async function saveGuestState(qmpSocket: string, statePath: string): Promise<void> {
  const folder = join(statePath, '..');
  await mkdir(folder, { recursive: true });
  const partial = `${statePath}.${process.pid}.partial`;
  const qmp = await QmpClient.connect(qmpSocket);
  try {
    // QEMU's default migration bandwidth is 32 MiB/s: ~9 s for this guest, instead of ~0.4 s.
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 2 ** 40 });
    await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(partial)}` });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = ((await qmp.execute('query-migrate')) as { status?: string }).status;
      if (status === 'completed') break;
      if (status === 'failed' || status === 'cancelled' || Date.now() > deadline) {
        await qmp.execute('migrate_cancel').catch(() => undefined);
        throw new HarnessError(`saving the guest to ${partial}: migration ${status ?? 'stuck'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A completed migration leaves the source paused ("postmigrate"): this guest is still ours.
    await qmp.execute('cont');
    await rename(partial, statePath);
    await removeOtherStates(folder, statePath);
  } finally {
    qmp.close();
    await rm(partial, { force: true });
  }
}

/**
 * Waits until the guest restoring behind `qmpSocket` runs. An ssh connection made while the
 * state is still loading is accepted by QEMU's slirp and then lost, costing its whole timeout.
 */
export async function waitUntilRestored(
  qmpSocket: string,
  deadline: number,
  qemuRunning: () => boolean,
): Promise<void> {
  let qmp: QmpClient | undefined;
  while (!qmp) {
    try {
      qmp = await QmpClient.connect(qmpSocket, 2_000);
    } catch (error) {
      if (Date.now() > deadline || !qemuRunning()) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    for (;;) {
      const { status } = (await qmp.execute('query-status')) as { status: string };
      if (status === 'running') return;
      // `inmigrate` while loading; anything else (`paused`, `internal-error`...) will not run.
      if (status !== 'inmigrate' || Date.now() > deadline)
        throw new HarnessError(`the restored guest is ${status}, not running`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    qmp.close();
  }
}

/**
 * Makes a restored guest its own: its clock stood still while it was saved, and every guest
 * restored from one file starts with the same random state. Sets the clock to the host's and
 * mixes host randomness into the guest's pool.
 */
export async function freshenRestoredGuest(connection: SshConnection): Promise<void> {
  const now = new Date().toISOString().replace('T', ' ').slice(0, 19);
  await connection.exec(sh`date -u -s ${now} >/dev/null && cat >/dev/urandom`, {
    stdin: randomBytes(64),
    timeoutMs: 60_000,
  });
}

/** Removes the state at `statePath` (it failed to restore: wrong for this QEMU, or damaged). */
export async function discardSavedState(statePath: string): Promise<void> {
  await rm(statePath, { force: true });
}

async function removeOtherStates(folder: string, keep: string): Promise<void> {
  for (const name of await readdir(folder)) {
    const path = join(folder, name);
    if (path === keep) continue;
    if (name.endsWith(stateSuffix)) await rm(path, { force: true });
    // A `.partial` is another process's save in progress, unless that process is gone.
    const saver = /\.(\d+)\.partial$/.exec(name)?.[1];
    if (saver !== undefined && !processAlive(Number(saver))) await rm(path, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const hashes = new Map<string, string>();

/** sha256 of a file, remembered per path, size and modification time (the image is ~60 MB). */
async function contentHash(path: string): Promise<string> {
  const info = await stat(path);
  const memo = `${path}:${info.size}:${info.mtimeMs}`;
  const known = hashes.get(memo);
  if (known) return known;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  hashes.set(memo, digest);
  return digest;
}
