import type { Target } from '../target/target.ts';
import { parseLoopList } from './loop-check.ts';
import { backingRoot, isOurBackingFile, isOurTable, resourcePrefix } from './names.ts';

/**
 * Removes what an interrupted earlier run left behind: mounts under /mnt/powercut-*, dm tables
 * named powercut-*, loop devices backed by files under powercut's root, and that root. Touches
 * nothing else. Returns what it removed.
 */
export async function sweepStale(target: Target): Promise<string[]> {
  const removed: string[] = [];
  const mounts = (await target.exec('cat /proc/mounts', { check: false })).stdout;
  for (const line of mounts.split('\n')) {
    const mountPoint = line.split(' ')[1];
    if (mountPoint?.startsWith(`/mnt/${resourcePrefix}`)) {
      await target.exec(`umount -l ${mountPoint}`, { check: false });
      removed.push(`mount ${mountPoint}`);
    }
  }
  const tables = (await target.exec('dmsetup ls', { check: false })).stdout;
  for (const name of tables.split('\n').map((l) => l.split(/\s+/)[0] ?? '')) {
    if (isOurTable(name)) {
      await target.exec(`dmsetup remove --force ${name}`, { check: false });
      removed.push(`table ${name}`);
    }
  }
  const loops = parseLoopList((await target.exec('losetup -J -l', { check: false })).stdout);
  for (const [device, backing] of loops) {
    if (isOurBackingFile(backing)) {
      await target.exec(`losetup -d ${device}`, { check: false });
      removed.push(`loop ${device}`);
    }
  }
  await target.exec(`rm -rf ${backingRoot}; rmdir /mnt/${resourcePrefix}* 2>/dev/null; true`, {
    check: false,
  });
  return removed;
}
