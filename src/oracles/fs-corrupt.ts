import type { Anomaly } from '../model/verdict.ts';

/** What the read-only filesystem check found after the crash (and the journal's replay). */
export type FsckOutcome = { clean: boolean; output: string };

/**
 * fs-corrupt: after the crash, the kernel's own recovery (mounting replays the journal) left an
 * inconsistent filesystem, as the filesystem's own checker (e2fsck -fn, xfs_repair -n, btrfs
 * check --readonly) reports it. Not the engine's fault, but a real finding about the stack it
 * runs on (and under corrupt_bio_byte, metadata damage is expected).
 */
export function checkFilesystem(fsck: FsckOutcome | undefined): Anomaly[] {
  if (!fsck || fsck.clean) return [];
  return [
    {
      kind: 'fs-corrupt',
      ops: [],
      message: `the filesystem check found inconsistencies after recovery: ${fsck.output.split('\n').slice(-3).join(' | ')}`,
    },
  ];
}
