import type { SectorRange } from '../device/dm-table.ts';
import type { FilesystemType } from '../../model/trial-plan.ts';
import { sh } from '../target/shell.ts';
import type { Target } from '../target/target.ts';

/**
 * Where a store file's data lies on the device, in 512-byte sectors, from `filefrag -v -b512`
 * (FIEMAP). The filesystem sits at sector 0 of the fault device, so a physical offset is a
 * device sector. Only where that holds: ext4 and xfs map file blocks to device blocks; btrfs
 * reports its own logical addresses (its chunk tree maps them), so it gets no answer.
 * The store is zero-filled and synced before any fault, so its extents do not move after.
 */
export async function storeExtents(
  target: Target,
  filesystem: FilesystemType,
  store: string,
): Promise<{ extents: FileExtent[]; ranges: SectorRange[] } | { reason: string }> {
  if (filesystem === 'btrfs')
    return { reason: 'btrfs reports logical addresses, not device sectors' };
  const r = await target.exec(sh`filefrag -v -b512 ${store}`, { check: false, timeoutMs: 60_000 });
  if (r.code !== 0) return { reason: `filefrag failed: ${(r.stderr || r.stdout).trim()}` };
  return parseFilefrag(r.stdout);
}

/** A run of the file's sectors at `fileSector` stored at device sector `start`. */
export type FileExtent = SectorRange & { fileSector: number };

/**
 * `filefrag -v -b512` output → the file's extents in file order (for reading the file out of a
 * device image) and their device ranges sorted and merged (for confining a fault); a reason when
 * there are none.
 */
export function parseFilefrag(
  output: string,
): { extents: FileExtent[]; ranges: SectorRange[] } | { reason: string } {
  const extents: FileExtent[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*\d+:\s*(\d+)\.\.\s*\d+:\s*(\d+)\.\.\s*(\d+):\s*(\d+):\s*(?:\d+:)?\s*(\S*)/.exec(
      line,
    );
    if (!m) continue;
    const flags = m[5] ?? '';
    // No fixed place on the device (yet): nothing to confine the fault to.
    if (/unknown_loc|delalloc|inline|encoded|not_aligned/.test(flags))
      return { reason: `an extent has no fixed place on the device (${flags})` };
    extents.push({ fileSector: Number(m[1]), start: Number(m[2]), sectors: Number(m[4]) });
  }
  if (extents.length === 0) return { reason: 'filefrag listed no extent' };
  extents.sort((a, b) => a.fileSector - b.fileSector);
  const ranges: SectorRange[] = [];
  for (const e of [...extents].sort((a, b) => a.start - b.start)) {
    const last = ranges.at(-1);
    if (last && e.start <= last.start + last.sectors)
      last.sectors = Math.max(last.sectors, e.start + e.sectors - last.start);
    else ranges.push({ start: e.start, sectors: e.sectors });
  }
  return { extents, ranges };
}
