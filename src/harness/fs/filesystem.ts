import { HarnessError } from '../errors.ts';
import type { FaultDevice } from '../device/fault-device.ts';
import { requireOwnLoopScript } from '../device/guards.ts';
import type { ExecResult, Target } from '../target/target.ts';
import { raw, sh } from '../target/shell.ts';

export type FilesystemType = 'ext4' | 'xfs' | 'btrfs';

const mkfsCommand: Record<FilesystemType, string[]> = {
  ext4: ['mkfs.ext4', '-F', '-q'],
  xfs: ['mkfs.xfs', '-f', '-q'],
  btrfs: ['mkfs.btrfs', '-f', '-q'],
};

// Read-only checks: they report, never repair.
const fsckCommand: Record<FilesystemType, string[]> = {
  ext4: ['e2fsck', '-fn'],
  xfs: ['xfs_repair', '-n'],
  btrfs: ['btrfs', 'check', '--readonly'],
};

const mountOptionsPattern = /^[a-z0-9_=,.-]*$/i;

/**
 * mkfs on a powercut fault device, never on a path: the script first checks, in the target,
 * that the device's loop is ours (the one place where a wrong device would destroy someone's
 * data), then formats.
 */
export async function mkfs(
  target: Target,
  device: FaultDevice,
  options: MkfsOptions,
): Promise<void> {
  await target.exec(mkfsScript(device, options), { timeoutMs: 180_000 });
}

export type MkfsOptions = { fs: FilesystemType; eagerInit?: boolean };

export function mkfsScript(device: FaultDevice, options: MkfsOptions): string {
  return [
    requireOwnLoopScript(device.loopDevice, device.names.backingFile),
    formatScript(device.path, options),
  ].join('\n');
}

/**
 * mkfs alone, for a script that made the fault device itself and checked its loop device in
 * the same script (createFaultDevice's `then`).
 */
export function formatScript(path: string, options: MkfsOptions): string {
  // ext4 zeroes its inode tables lazily, in the background after mount: writes no engine made
  // (eagerInit does it at mkfs time, for measurements).
  const eager =
    options.eagerInit && options.fs === 'ext4'
      ? ['-E', 'lazy_itable_init=0,lazy_journal_init=0']
      : [];
  return sh`${mkfsCommand[options.fs]} ${eager} ${path}`;
}

export async function mount(
  target: Target,
  device: FaultDevice,
  mountPoint: string,
  options: MountOptions,
): Promise<void> {
  const command = mountScript(device, mountPoint, options);
  const result = await target.exec(command, { timeoutMs: 120_000, check: false });
  throwIfMountFailed(result);
}

export type MountOptions = { fs: FilesystemType; mountOptions?: string };

/** The shell of `mount` (its mount point created first); run it, then throwIfMountFailed. */
export function mountScript(
  device: { path: string },
  mountPoint: string,
  options: MountOptions,
): string {
  if (options.mountOptions && !mountOptionsPattern.test(options.mountOptions)) {
    throw new HarnessError(`invalid mount options ${JSON.stringify(options.mountOptions)}`);
  }
  const opts = options.mountOptions ? ['-o', options.mountOptions] : [];
  return sh`mkdir -p ${mountPoint} && mount -t ${options.fs} ${opts} ${device.path} ${mountPoint}`;
}

/** `command`: the mount's own (the exec may have run more around it). */
export function throwIfMountFailed(result: ExecResult, command = result.command): void {
  if (result.code !== 0)
    throw new MountFailed(
      `\`${command}\` exited ${result.code ?? result.signal}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
    );
}

/**
 * mount ran and refused the filesystem (as opposed to the target being unreachable): after a
 * crash, an outcome of the trial; before one, a harness error like any other.
 */
export class MountFailed extends HarnessError {
  constructor(message: string) {
    super(message);
    this.name = 'MountFailed';
  }
}

export async function umount(target: Target, mountPoint: string): Promise<void> {
  await target.exec(sh`umount ${mountPoint}`, { timeoutMs: 120_000 });
}

/**
 * After reloading the table: stale cached pages/metadata must not hide what is on disk. No
 * `sync` first: it would flush every filesystem in the target, other trials' (another slot's)
 * among them, at a moment of our choosing instead of the kernel's.
 */
export const dropCachesScript = 'echo 3 > /proc/sys/vm/drop_caches';

/**
 * The shell command of a read-only check of an unmounted device. Run it after the filesystem
 * was mounted once since the crash (and unmounted): mounting replays the journal (ext4, xfs) or
 * the log tree (btrfs), which is the recovery the kernel itself does; before that, ext4 reports
 * its journal as needing recovery and xfs_repair -n refuses a dirty log, so the check would say
 * nothing about the filesystem.
 */
export function fsckScript(fs: FilesystemType, devicePath: string): string {
  return sh`${fsckCommand[fs]} ${devicePath} ${raw('2>&1')}`;
}

/** What fsckScript's exit code and output mean. */
export function fsckOutcome(
  code: number | null,
  stdout: string,
): { clean: boolean; output: string } {
  return { clean: code === 0, output: stdout.trim().split('\n').slice(-5).join('\n') };
}

/** What a crash state's report says where the scenario did not ask for a filesystem check. */
export const fsckNotAsked = {
  clean: true,
  output: 'not checked: the scenario does not ask for it (fault.fsck: true)',
} as const;

/** The exit codes of a failed unmount, or a failed `readFirst` script, before the check: no
 * fsck (e2fsck, xfs_repair, btrfs check) exits with them. */
const umountFailed = 97;
const readFirstFailed = 96;
/** Between what `readFirst` printed and the check's own output. */
const checkBegins = '--- powercut: filesystem check ---';

/**
 * A read-only filesystem check of the device. With `unmountFirst`, the mount point is unmounted
 * in the same round trip (a failed unmount is a harness error: nothing is checked); with
 * `readFirst`, that script runs before it, still mounted, and its output is returned as `read`
 * (one round trip fewer for a caller that reads the store before the check).
 */
export async function fsck(
  target: Target,
  device: FaultDevice,
  fs: FilesystemType,
  o: {
    unmountFirst?: string;
    readFirst?: string;
    /** Runs the check's script (default: an exec of its own; the rig's last one, its teardown). */
    run?: (
      script: string,
      timeoutMs: number,
    ) => Promise<Pick<ExecResult, 'code' | 'stdout' | 'stderr'>>;
  } = {},
): Promise<{ clean: boolean; output: string; read?: string }> {
  const { unmountFirst, readFirst } = o;
  const script = [
    ...(readFirst
      ? [`(\n${readFirst}\n) || exit ${readFirstFailed}`, `echo; echo '${checkBegins}'`]
      : []),
    ...(unmountFirst ? [`${sh`umount ${unmountFirst}`} || exit ${umountFailed}`] : []),
    fsckScript(fs, device.path),
  ].join('\n');
  const result = o.run
    ? await o.run(script, 180_000)
    : await target.exec(script, { check: false, timeoutMs: 180_000 });
  const why = result.stderr.trim().split('\n').at(-1) ?? '';
  if (readFirst && result.code === readFirstFailed)
    throw new HarnessError(`\`${readFirst}\` failed before the filesystem check: ${why}`);
  if (unmountFirst && result.code === umountFailed)
    throw new HarnessError(`\`umount ${unmountFirst}\` failed before the filesystem check: ${why}`);
  if (!readFirst) return fsckOutcome(result.code, result.stdout);
  const split = result.stdout.indexOf(`\n${checkBegins}\n`);
  if (split < 0) throw new HarnessError(`the filesystem check printed no ${checkBegins} line`);
  return {
    ...fsckOutcome(result.code, result.stdout.slice(split + checkBegins.length + 2)),
    read: result.stdout.slice(0, split),
  };
}
