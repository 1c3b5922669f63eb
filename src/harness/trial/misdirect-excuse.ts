import { pageAtOffset } from '../../engine/direct-layout.ts';
import type { LogEntry } from '../../logwrites/format.ts';
import type { CrashState } from '../../logwrites/states.ts';
import type { FileExtent } from '../fs/store-extents.ts';

/**
 * What a misdirected write takes from a direct-layout engine through no fault of its own: the
 * logical pages of the slots it should have written (they keep older data) and of the slots
 * it overwrote (another page's bytes now sit there). Durability excuses those pages for that
 * state (check's `excused`); what the engine returns for them is still checked.
 * @example misdirectExcuse({ entries, sectorSize: 512, extents, pageSize: 4096 })(state)
 */
export function misdirectExcuse(o: {
  entries: readonly LogEntry[];
  sectorSize: number;
  extents: readonly FileExtent[];
  pageSize: number;
}): (state: CrashState) => ReadonlySet<number> | undefined {
  const unit = 512;
  const scale = o.sectorSize / unit;
  // The store pages a device range (log sectors) covers, through the extents (file order).
  const pagesIn = (sector: number, sectors: number, into: Set<number>): void => {
    const first = sector * scale;
    const end = first + sectors * scale;
    for (const x of o.extents) {
      const lo = Math.max(first, x.start);
      const hi = Math.min(end, x.start + x.sectors);
      for (let s = lo; s < hi; s++)
        into.add(pageAtOffset((x.fileSector + s - x.start) * unit, o.pageSize));
    }
  };
  return (state) => {
    if (!state.misdirect) return undefined;
    const e = o.entries[state.misdirect.entry]!;
    const pages = new Set<number>();
    pagesIn(e.sector, e.nrSectors, pages);
    pagesIn(state.misdirect.sector, e.nrSectors, pages);
    return pages;
  };
}
