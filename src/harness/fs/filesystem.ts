import { HarnessError } from '../errors.ts';
import type { FaultDevice } from '../device/fault-device.ts';
import { verifyOwnLoop } from '../device/loop-check.ts';
import type { Target } from '../target/target.ts';

export type FilesystemType = 'ext4' | 'xfs' | 'btrfs';

export const mkfsCommand: Record<FilesystemType, string> = {
  ext4: 'mkfs.ext4 -F -q',
  xfs: 'mkfs.xfs -f -q',
  btrfs: 'mkfs.btrfs -f -q',
};

// Read-only checks: they report, never repair.
export const fsckCommand: Record<FilesystemType, string> = {
  ext4: 'e2fsck -fn',
  xfs: 'xfs_repair -n',
  btrfs: 'btrfs check --readonly',
};

const mountOptionsPattern = /^[a-z0-9_=,.-]*$/i;

/**
 * mkfs on a powercut fault device, never on a path: the device's loop is verified to be ours
 * first (the one place where a wrong device would destroy someone's data).
 */
export async function mkfs(
  target: Target,
  device: FaultDevice,
  options: { fs: FilesystemType; eagerInit?: boolean },
): Promise<void> {
  await verifyOwnLoop(target, device.loopDevice, device.names.backingFile);
  // ext4 zeroes its inode tables lazily, in the background after mount: writes no engine made
  // (eagerInit does it at mkfs time, for measurements).
  const eager =
    options.eagerInit && options.fs === 'ext4' ? ' -E lazy_itable_init=0,lazy_journal_init=0' : '';
  await target.exec(`${mkfsCommand[options.fs]}${eager} ${device.path}`, { timeoutMs: 180_000 });
}

export async function mount(
  target: Target,
  device: FaultDevice,
  mountPoint: string,
  options: { fs: FilesystemType; mountOptions?: string },
): Promise<void> {
  if (options.mountOptions && !mountOptionsPattern.test(options.mountOptions)) {
    throw new HarnessError(`invalid mount options ${JSON.stringify(options.mountOptions)}`);
  }
  const opts = options.mountOptions ? ` -o ${options.mountOptions}` : '';
  await target.exec(
    `mkdir -p ${mountPoint} && mount -t ${options.fs}${opts} ${device.path} ${mountPoint}`,
    { timeoutMs: 120_000 },
  );
}

export async function umount(target: Target, mountPoint: string): Promise<void> {
  await target.exec(`umount ${mountPoint}`, { timeoutMs: 120_000 });
}

/** After reloading the table: stale cached pages/metadata must not hide what is on disk. */
export async function dropCaches(target: Target): Promise<void> {
  await target.exec('sync; echo 3 > /proc/sys/vm/drop_caches', { check: false });
}

/** A read-only filesystem check of the (unmounted) device. */
export async function fsck(
  target: Target,
  device: FaultDevice,
  fs: FilesystemType,
): Promise<{ clean: boolean; output: string }> {
  // ext4's journal is replayed at mount, so e2fsck -n before mount would report the journal
  // as needing recovery: check only what needs no replay, and report it as such (one round trip).
  const replay = '__powercut_needs_replay';
  const command =
    fs === 'ext4'
      ? `if dumpe2fs -h ${device.path} 2>/dev/null | grep -qi needs_recovery; then echo ${replay}; else ${fsckCommand[fs]} ${device.path} 2>&1; fi`
      : `${fsckCommand[fs]} ${device.path} 2>&1`;
  const result = await target.exec(command, { check: false, timeoutMs: 180_000 });
  if (result.stdout.trim() === replay)
    return { clean: true, output: 'journal needs replay (done at mount)' };
  return {
    clean: result.code === 0,
    output: result.stdout.trim().split('\n').slice(-5).join('\n'),
  };
}
