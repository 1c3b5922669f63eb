import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { isOurBackingFile } from './names.ts';

/** `losetup -J -l` → loop device → backing file. */
export function parseLoopList(json: string): Map<string, string> {
  const parsed = JSON.parse(json || '{"loopdevices":[]}') as {
    loopdevices?: { name: string; 'back-file': string | null }[];
  };
  return new Map(
    (parsed.loopdevices ?? []).map((d) => [
      d.name,
      (d['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
    ]),
  );
}

/**
 * Refuses any device that is not a loop device backed by the file powercut created for it.
 * Called before mkfs/dmsetup touch a device.
 */
export async function verifyOwnLoop(
  target: Target,
  device: string,
  expectedBacking?: string,
): Promise<void> {
  if (!/^\/dev\/loop\d+$/.test(device))
    throw new HarnessError(`refusing ${device}: not a loop device created by powercut`);
  const list = parseLoopList((await target.exec('losetup -J -l')).stdout);
  const backing = list.get(device);
  const ours =
    backing !== undefined &&
    isOurBackingFile(backing) &&
    (!expectedBacking || backing === expectedBacking);
  if (!ours)
    throw new HarnessError(
      `refusing ${device}: a loop device powercut did not create (backed by ${backing ?? 'nothing'})`,
    );
}
