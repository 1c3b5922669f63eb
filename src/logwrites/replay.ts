import { readSync, writeSync } from 'node:fs';
import type { StateRequest } from './explorer-protocol.ts';
import type { LogEntry, LogReader } from './format.ts';
import { writesData } from './format.ts';

/** A LogReader over an open file descriptor (the log device or a copy of it). */
export function fdReader(fd: number): LogReader {
  return (offset, length) => {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  };
}

const chunk = 1 << 20;

/**
 * Replays entries onto an image (a file or block device open for writing): each write's data
 * goes to its sector, a discard zeroes its range (what a discarded range may read back as).
 * `skip` holds entry indexes left out (the unflushed writes a crash state drops); `fate`, one
 * write that reached the disk only in part (`torn`: its first `sectors` sectors) or at another
 * place (`misdirect`: at log sector `sector`).
 */
export function applyEntries(
  readLog: LogReader,
  imageFd: number,
  entries: readonly LogEntry[],
  sectorSize: number,
  skip: ReadonlySet<number> = new Set(),
  fate: Pick<StateRequest, 'torn' | 'misdirect'> = {},
): number {
  const { torn, misdirect } = fate;
  let bytes = 0;
  for (const e of entries) {
    if (!writesData(e) || skip.has(e.index)) continue;
    const sectors = torn?.entry === e.index ? Math.min(torn.sectors, e.nrSectors) : e.nrSectors;
    const sector = misdirect?.entry === e.index ? misdirect.sector : e.sector;
    const total = sectors * sectorSize;
    for (let done = 0; done < total; done += chunk) {
      const n = Math.min(chunk, total - done);
      const at = sector * sectorSize + done;
      if (e.discard) {
        // Zero only what is not zero already: a sparse image (mkfs discards the whole device)
        // stays sparse.
        const present = fdReader(imageFd)(at, n); // short past the end: nothing to zero there
        if (!isZero(present, new Uint8Array(present.length)))
          writeAll(imageFd, new Uint8Array(present.length), at);
        continue;
      }
      const data = readLog(e.dataOffset + done, n);
      if (data.length !== n) throw new Error(`log entry ${e.index}: data cut short`);
      writeAll(imageFd, data, at);
    }
    bytes += total;
  }
  return bytes;
}

function isZero(data: Uint8Array, zero: Uint8Array): boolean {
  return Buffer.compare(data, zero.subarray(0, data.length)) === 0;
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}
