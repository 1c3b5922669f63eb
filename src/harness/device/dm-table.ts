import type { FaultKind } from '../../model/history.ts';

/**
 * dm table lines. dm-flakey (Documentation/admin-guide/device-mapper/dm-flakey.rst):
 *   <dev path> <offset> <up interval> <down interval> [<num_features> [<feature arguments>]]
 * Features: drop_writes, error_writes, corrupt_bio_byte <Nth_byte> <direction> <value> <flags>;
 * with no feature, every I/O fails during the down interval. "Armed on demand" is a table
 * with up 0 and down 1: the device is down for as long as the table is loaded.
 */
export type FlakeyFault = {
  kind: FaultKind;
  /** Time schedule in seconds (the seed's "5 s up, 1 s down"); default: down while loaded. */
  schedule?: { up: number; down: number };
  corrupt?: { byte?: number | undefined; value: number };
  /**
   * Only these device ranges get the fault (sorted, not overlapping); the rest of the device
   * stays linear. How corruption is kept to the engine's own store: a corrupted journal or
   * inode table would leave a filesystem that no longer mounts, with nothing left to judge.
   */
  within?: readonly SectorRange[];
};

export type SectorRange = { start: number; sectors: number };

export function linearTable(sectors: number, device: string): string {
  return `0 ${sectors} linear ${device} 0`;
}

export function flakeyTable(
  sectors: number,
  device: string,
  fault: FlakeyFault,
  supportsErrorReads = false,
): string {
  const up = fault.schedule?.up ?? 0;
  const down = fault.schedule?.down ?? 1;
  const flakey = (start: number, length: number): string =>
    `${start} ${length} flakey ${device} ${start} ${up} ${down}${featureArgs(fault, supportsErrorReads)}`;
  if (!fault.within) return flakey(0, sectors);
  // One table line per segment, covering the device without a gap: linear between the ranges.
  const lines: string[] = [];
  let at = 0;
  for (const range of fault.within) {
    const start = Math.max(range.start, at);
    const end = Math.min(range.start + range.sectors, sectors);
    if (end <= start) continue;
    if (start > at) lines.push(`${at} ${start - at} linear ${device} ${at}`);
    lines.push(flakey(start, end - start));
    at = end;
  }
  if (at < sectors) lines.push(`${at} ${sectors - at} linear ${device} ${at}`);
  return lines.join('\n');
}

function featureArgs(fault: FlakeyFault, supportsErrorReads: boolean): string {
  switch (fault.kind) {
    case 'drop_writes':
    case 'power_cut':
      return ' 1 drop_writes';
    case 'error_writes':
      return ' 1 error_writes';
    case 'corrupt_bio_byte': {
      const byte = fault.corrupt?.byte ?? 1;
      const value = fault.corrupt?.value ?? 0;
      return ` 5 corrupt_bio_byte ${byte} w ${value} 0`;
    }
    case 'error_reads':
      // Newer kernels have an error_reads feature; 6.1 fails all I/O when no feature is given.
      return supportsErrorReads ? ' 1 error_reads' : '';
  }
}

/** dm-log-writes: every write to `device` is also appended, with its data, to `logDevice`. */
export function logWritesTable(sectors: number, device: string, logDevice: string): string {
  return `0 ${sectors} log-writes ${device} ${logDevice}`;
}
