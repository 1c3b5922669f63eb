import { closeSync, openSync, readSync } from 'node:fs';
import type { ImageSource } from '../sim/image-file.ts';

/** One run of a file's blocks: `length` blocks from `logical` in the file, at `physical`. */
export type Extent = { logical: number; physical: number; length: number; uninit: boolean };

/**
 * What debugfs says of a file (`stat`, then `dump_extents -l`): its size and leaf extents;
 * `missing` when it is not in the filesystem; `other` when its data is not mapped by extents
 * alone (not a regular file, block-mapped, inline data), which only debugfs's `dump` reads.
 */
export type Ext4File =
  | { kind: 'extents'; size: number; extents: Extent[] }
  | { kind: 'missing' }
  | { kind: 'other'; why: string };

/** debugfs commands (for `debugfs -f -`) whose output `parseExt4File` reads: `path` from the root. */
export const ext4FileCommands = (path: string): string =>
  `stat /${path}\ndump_extents -l /${path}\n`;

const EXTENTS_FL = 0x80000;
const INLINE_DATA_FL = 0x10000000;
/** A size beyond this (a damaged inode may claim any) is left to debugfs, which writes holes. */
const MAX_READ = 1 << 30;

/**
 * Parses debugfs's answer to `ext4FileCommands`. A leaf line of `dump_extents` reads
 * `level/depth entry/entries  first - last  physFirst - physLast  length [Uninit]`.
 * @example parseExt4File(output).kind === 'extents'
 */
export function parseExt4File(output: string): Ext4File {
  if (/File not found by ext2_lookup/.test(output)) return { kind: 'missing' };
  const type = /\bType:\s+(\S+)/.exec(output)?.[1];
  const flags = Number.parseInt(/\bFlags:\s+0x([0-9a-f]+)/i.exec(output)?.[1] ?? '', 16);
  const size = /^User:.*?\sSize:\s+(\d+)/m.exec(output)?.[1];
  if (type !== 'regular' || Number.isNaN(flags) || size === undefined)
    return { kind: 'other', why: `debugfs stat gave no regular file's type, flags and size` };
  if (Number(size) > MAX_READ)
    return { kind: 'other', why: `${size} bytes: larger than a store read in memory` };
  if ((flags & EXTENTS_FL) === 0 || (flags & INLINE_DATA_FL) !== 0)
    return { kind: 'other', why: `inode flags 0x${flags.toString(16)}: not mapped by extents` };
  const extents: Extent[] = [];
  const leaf =
    /^\s*\d+\/\s*\d+\s+\d+\/\s*\d+\s+(\d+)\s+-\s+(\d+)\s+(\d+)\s+-\s+(\d+)\s+(\d+)[ \t]*(\S*)/gm;
  for (const m of output.matchAll(leaf)) {
    const [logical, last, physical, physicalLast, length] = m.slice(1, 6).map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    if (last - logical + 1 !== length || physicalLast - physical + 1 !== length)
      return { kind: 'other', why: `an extent line debugfs printed does not add up: ${m[0]}` };
    extents.push({ logical, physical, length, uninit: m[6] === 'Uninit' });
  }
  return { kind: 'extents', size: Number(size), extents };
}

/** The block size of the ext4 filesystem in an image, from its superblock. */
export function ext4BlockSize(image: string): number {
  const fd = openSync(image, 'r');
  try {
    return blockSizeOf(fd, image);
  } finally {
    closeSync(fd);
  }
}

function blockSizeOf(fd: number, image: string): number {
  const sb = Buffer.alloc(1024);
  readSync(fd, sb, 0, 1024, 1024);
  if (sb.readUInt16LE(56) !== 0xef53) throw new Error(`${image} holds no ext4 superblock`);
  return 1024 << sb.readUInt32LE(24);
}

/**
 * A file in an image, read in place through its extents, only where asked: what `debugfs dump`
 * writes, with one read per extent where debugfs makes a read and a write per block. An
 * engine's recovery reads a fraction of a preallocated store (128 KiB of 1 MiB for 16 pages),
 * and reading it all had cost a fresh 1 MiB buffer per screened state. Holes and uninitialized
 * extents read as zeros, as from a kernel. Close it when done.
 * @example const f = openExt4File(image, file); try { recover(imageFile(f.source)) } finally { f.close() }
 */
export function openExt4File(
  image: string,
  file: { size: number; extents: Extent[] },
): { source: ImageSource; close(): void } {
  const fd = openSync(image, 'r');
  let blockSize: number;
  try {
    blockSize = blockSizeOf(fd, image);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  const readInto = (start: number, end: number, out: Uint8Array, at: number): void => {
    const to = Math.min(end, file.size);
    out.fill(0, at, at + Math.max(0, end - start));
    for (const e of file.extents) {
      if (e.uninit) continue;
      const from = Math.max(start, e.logical * blockSize);
      const until = Math.min(to, (e.logical + e.length) * blockSize);
      for (let pos = from; pos < until;) {
        const physical = e.physical * blockSize + (pos - e.logical * blockSize);
        const n = readSync(fd, out, at + (pos - start), until - pos, physical);
        if (n === 0) break; // beyond the image: what is not there reads as zeros
        pos += n;
      }
    }
  };
  return {
    source: {
      size: file.size,
      readInto,
      materialize: () => {
        const bytes = new Uint8Array(file.size);
        readInto(0, file.size, bytes, 0);
        return bytes;
      },
    },
    close: () => closeSync(fd),
  };
}
