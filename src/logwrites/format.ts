/**
 * The on-disk format of Linux's dm-log-writes target (drivers/md/dm-log-writes.c), read back
 * in TypeScript. Little-endian throughout.
 *
 * - Sector 0 of the log device: the super, `{magic u64, version u64, nr_entries u64,
 *   sectorsize u32}`. `sectorsize` is the logical block size of the logged device; every
 *   other unit below is one such sector.
 * - From byte `sectorsize` on, `nr_entries` entries, each one sector holding the header
 *   `{sector u64, nr_sectors u64, flags u64, data_len u64}` (a mark's name follows the header
 *   in the same sector), then, unless it is a discard, `nr_sectors` sectors of the written data.
 *
 * The kernel appends a write to the log only once a flush that covers it (or its own FUA) has
 * completed, so the log is the order in which writes became durable: every entry before a flush
 * entry was on stable storage when the flush completed. Marks (`dmsetup message ... mark NAME`)
 * land between those groups. Unflushed writes are appended when the table is torn down,
 * followed by the mark `dm-log-writes-end`.
 */
export const logWritesMagic = 0x6a736677736872n;
export const logWritesVersion = 1n;
export const endMark = 'dm-log-writes-end';
/** The mark a trial puts into the log just before the engine starts: states before it are mkfs's. */
export const startMark = 'powercut:start';

export const entryFlags = { flush: 1, fua: 2, discard: 4, mark: 8, metadata: 16 } as const;
const headerBytes = 32;

export type LogEntry = {
  /** Position in the log (0-based). */
  index: number;
  /** Byte offset of the entry's data in the log device (meaningful when it writes data). */
  dataOffset: number;
  /** First sector written on the logged device (in `sectorSize` units). */
  sector: number;
  nrSectors: number;
  flush: boolean;
  fua: boolean;
  discard: boolean;
  metadata: boolean;
  /** The mark's name, for mark entries. */
  mark?: string;
};

/** `usedBytes`: where the last entry ends (the rest of the log device is unused). */
export type LogIndex = { sectorSize: number; entries: LogEntry[]; usedBytes: number };

export class LogFormatError extends Error {
  override name = 'LogFormatError';
}

/** Reads `length` bytes at `offset` of the log device (short reads past its end are allowed). */
export type LogReader = (offset: number, length: number) => Uint8Array;

/** Parses the super and every entry's header; the data stays in the log, addressed by offset. */
export function parseLog(read: LogReader, logBytes: number): LogIndex {
  const superBlock = view(read(0, 28), 28, 'super');
  const magic = superBlock.getBigUint64(0, true);
  if (magic !== logWritesMagic) {
    throw new LogFormatError(
      `not a dm-log-writes log: magic 0x${magic.toString(16)} (expected 0x${logWritesMagic.toString(16)}; a log with no flush or mark yet has no super)`,
    );
  }
  const version = superBlock.getBigUint64(8, true);
  if (version !== logWritesVersion)
    throw new LogFormatError(`dm-log-writes log version ${version} (expected 1)`);
  const count = Number(superBlock.getBigUint64(16, true));
  const sectorSize = superBlock.getUint32(24, true);
  if (![512, 1024, 2048, 4096].includes(sectorSize))
    throw new LogFormatError(`dm-log-writes log sector size ${sectorSize}`);
  const entries: LogEntry[] = [];
  let offset = sectorSize;
  for (let index = 0; index < count; index++) {
    if (offset + sectorSize > logBytes)
      throw new LogFormatError(
        `entry ${index} of ${count} lies past the end of the log (${logBytes} bytes)`,
      );
    const sectorBytes = read(offset, sectorSize);
    const h = view(sectorBytes, headerBytes, `entry ${index}`);
    const flags = Number(h.getBigUint64(16, true));
    const dataLen = Number(h.getBigUint64(24, true));
    const entry: LogEntry = {
      index,
      dataOffset: offset + sectorSize,
      sector: Number(h.getBigUint64(0, true)),
      nrSectors: Number(h.getBigUint64(8, true)),
      flush: (flags & entryFlags.flush) !== 0,
      fua: (flags & entryFlags.fua) !== 0,
      discard: (flags & entryFlags.discard) !== 0,
      metadata: (flags & entryFlags.metadata) !== 0,
    };
    if (flags & entryFlags.mark) {
      if (dataLen > sectorSize - headerBytes)
        throw new LogFormatError(`entry ${index}: mark of ${dataLen} bytes`);
      entry.mark = new TextDecoder().decode(
        sectorBytes.subarray(headerBytes, headerBytes + dataLen),
      );
    } else if (dataLen > 0) {
      // Inline data is only logged for DAX devices, which powercut never records.
      throw new LogFormatError(`entry ${index}: inline data (DAX) is not supported`);
    }
    entries.push(entry);
    offset += sectorSize * (1 + (entry.discard ? 0 : entry.nrSectors));
  }
  return { sectorSize, entries, usedBytes: offset };
}

/** True when replaying the entry changes the image. */
export const writesData = (e: LogEntry): boolean => e.nrSectors > 0 && e.mark === undefined;

/**
 * Whether an entry's sectors (of the log's `sectorSize` bytes) overlap any of `ranges`
 * (512-byte sectors, as filefrag and dm tables give them): a write to the store's extents.
 */
export function touchesRanges(
  e: Pick<LogEntry, 'sector' | 'nrSectors'>,
  ranges: readonly { start: number; sectors: number }[],
  sectorSize: number,
): boolean {
  const scale = sectorSize / 512;
  const first = e.sector * scale;
  const end = first + e.nrSectors * scale;
  return ranges.some((r) => first < r.start + r.sectors && r.start < end);
}

function view(bytes: Uint8Array, need: number, what: string): DataView {
  if (bytes.length < need)
    throw new LogFormatError(`${what}: short read (${bytes.length} of ${need} bytes)`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
