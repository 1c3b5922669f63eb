import { entryFlags, logWritesMagic } from '../../src/logwrites/format.ts';

export type SyntheticEntry =
  | { write: number; data: Uint8Array; flush?: boolean; fua?: boolean }
  | { flush: true }
  | { discard: number; sectors: number }
  | { mark: string };

/**
 * Builds a log in dm-log-writes' on-disk layout (as drivers/md/dm-log-writes.c writes it), so
 * the parser and the replayer are pinned down without a kernel; the [vm] tests use real logs.
 */
export function syntheticLog(entries: SyntheticEntry[], sectorSize = 512): Uint8Array {
  const chunks: Uint8Array[] = [];
  const sectorOf = (fill: (view: DataView, bytes: Uint8Array) => void): Uint8Array => {
    const bytes = new Uint8Array(sectorSize);
    fill(new DataView(bytes.buffer), bytes);
    return bytes;
  };
  chunks.push(
    sectorOf((v) => {
      v.setBigUint64(0, logWritesMagic, true);
      v.setBigUint64(8, 1n, true);
      v.setBigUint64(16, BigInt(entries.length), true);
      v.setUint32(24, sectorSize, true);
    }),
  );
  for (const e of entries) {
    let sector = 0;
    let nr = 0;
    let flags = 0;
    let mark: Uint8Array | undefined;
    let data: Uint8Array | undefined;
    if ('write' in e) {
      sector = e.write;
      nr = Math.ceil(e.data.length / sectorSize);
      data = new Uint8Array(nr * sectorSize);
      data.set(e.data);
      flags = (e.flush ? entryFlags.flush : 0) | (e.fua ? entryFlags.fua : 0);
    } else if ('discard' in e) {
      sector = e.discard;
      nr = e.sectors;
      flags = entryFlags.discard;
    } else if ('mark' in e) {
      flags = entryFlags.mark;
      mark = new TextEncoder().encode(e.mark);
    } else flags = entryFlags.flush;
    chunks.push(
      sectorOf((v, bytes) => {
        v.setBigUint64(0, BigInt(sector), true);
        v.setBigUint64(8, BigInt(nr), true);
        v.setBigUint64(16, BigInt(flags), true);
        v.setBigUint64(24, BigInt(mark?.length ?? 0), true);
        if (mark) bytes.set(mark, 32);
      }),
    );
    if (data) chunks.push(data);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

export const filled = (byte: number, length = 512): Uint8Array => new Uint8Array(length).fill(byte);
