import { closeSync, fstatSync, openSync } from 'node:fs';
import { execa } from 'execa';
import { type Ext4File, type Extent, ext4FileCommands, parseExt4File } from './ext4-file.ts';
import { fdReader } from './replay.ts';

/**
 * What `debugfs` says of a file in the root directory of an ext4 image (`ext4FileCommands`
 * and `parseExt4File`), read straight from the image: the superblock, the group descriptor,
 * the root directory's entries, the file's inode and its extent tree. A debugfs process per
 * screened state was a fifth of the screen's CPU. Only what a clean filesystem needs is read:
 * anything else (meta_bg, a journal not replayed, inline data, a block-mapped root, a name
 * with a slash, a tree that does not add up) is `other`, for debugfs to answer. Checksums
 * are not verified: the screen's `e2fsck -fn` judges the metadata, and a state it finds
 * damaged goes to the kernel anyway.
 * @example const file = lookupExt4File('/dev/shm/state.img', 'store.db'); file.kind === 'extents'
 */
export function lookupExt4File(image: string, name: string): Ext4File {
  const fd = openSync(image, 'r');
  try {
    return lookup(reader(fd, fstatSync(fd).size), name);
  } catch (error) {
    if (error instanceof Unsupported) return { kind: 'other', why: error.message };
    throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * Where a root-directory file is in an ext4 image: read straight from it, or, where that
 * cannot say (a layout `lookupExt4File` does not read), from debugfs (`stat`, `dump_extents`).
 * @example const file = await findExt4File(image, 'store.db');
 */
export async function findExt4File(image: string, name: string): Promise<Ext4File> {
  const direct = lookupExt4File(image, name);
  if (direct.kind !== 'other') return direct;
  const { all } = await execa('debugfs', ['-f', '-', image], {
    input: ext4FileCommands(name),
    reject: false,
    all: true,
  });
  return parseExt4File(all);
}

class Unsupported extends Error {}

const need = (ok: boolean, why: string): void => {
  if (!ok) throw new Unsupported(why);
};

type Read = (offset: number, length: number) => Buffer;

function reader(fd: number, size: number): Read {
  const read = fdReader(fd);
  return (offset, length) => {
    need(offset >= 0 && offset + length <= size, `a read at ${offset} lies beyond the image`);
    const bytes = read(offset, length);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  };
}

const EXT4_MAGIC = 0xef53;
const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_64BIT = 0x80;
const EXTENTS_FL = 0x80000;
const INLINE_DATA_FL = 0x10000000;
const EXTENT_MAGIC = 0xf30a;
const ROOT_INODE = 2;
const S_IFMT = 0xf000;
const S_IFREG = 0x8000;
const S_IFDIR = 0x4000;
/** As parseExt4File: a size beyond this (a damaged inode may claim any) is left to debugfs. */
const MAX_READ = 1 << 30;

type Fs = {
  read: Read;
  blockSize: number;
  inodesPerGroup: number;
  inodeSize: number;
  descSize: number;
  gdtOffset: number;
  wide: boolean;
};

function lookup(read: Read, name: string): Ext4File {
  need(name.length > 0 && !name.includes('/'), `${name}: not a name in the root directory`);
  const sb = read(1024, 1024);
  need(sb.readUInt16LE(56) === EXT4_MAGIC, 'no ext4 superblock');
  const incompat = sb.readUInt32LE(96);
  need((incompat & INCOMPAT_RECOVER) === 0, 'the journal still needs recovery');
  need((incompat & INCOMPAT_META_BG) === 0, 'meta_bg: group descriptors are spread out');
  const logBlock = sb.readUInt32LE(24);
  need(logBlock <= 6, `block size 1024 << ${logBlock}`);
  const blockSize = 1024 << logBlock;
  const wide = (incompat & INCOMPAT_64BIT) !== 0;
  const fs: Fs = {
    read,
    blockSize,
    inodesPerGroup: sb.readUInt32LE(40),
    inodeSize: sb.readUInt32LE(76) >= 1 ? sb.readUInt16LE(88) : 128,
    descSize: wide ? sb.readUInt16LE(254) : 32,
    gdtOffset: (sb.readUInt32LE(20) + 1) * blockSize,
    wide,
  };
  need(
    fs.inodesPerGroup > 0 && fs.inodeSize >= 128 && fs.descSize >= 32,
    'a superblock that does not add up',
  );

  const root = inode(fs, ROOT_INODE);
  need((root.mode & S_IFMT) === S_IFDIR, 'the root is not a directory');
  const number = findEntry(fs, root, name);
  if (number === undefined) return { kind: 'missing' };
  const file = inode(fs, number);
  if ((file.mode & S_IFMT) !== S_IFREG)
    return { kind: 'other', why: `inode ${number} is not a regular file` };
  if (file.size > MAX_READ)
    return { kind: 'other', why: `${file.size} bytes: larger than a store read in memory` };
  if ((file.flags & EXTENTS_FL) === 0 || (file.flags & INLINE_DATA_FL) !== 0)
    return {
      kind: 'other',
      why: `inode flags 0x${file.flags.toString(16)}: not mapped by extents`,
    };
  return { kind: 'extents', size: file.size, extents: leafExtents(fs, file.block) };
}

type Inode = { mode: number; size: number; flags: number; block: Buffer };

function inode(fs: Fs, number: number): Inode {
  const group = Math.floor((number - 1) / fs.inodesPerGroup);
  const index = (number - 1) % fs.inodesPerGroup;
  const desc = fs.read(fs.gdtOffset + group * fs.descSize, fs.descSize);
  const tableLo = desc.readUInt32LE(8);
  const tableHi = fs.wide && fs.descSize >= 64 ? desc.readUInt32LE(0x28) : 0;
  const table = tableHi * 2 ** 32 + tableLo;
  const raw = fs.read(table * fs.blockSize + index * fs.inodeSize, Math.min(fs.inodeSize, 256));
  return {
    mode: raw.readUInt16LE(0),
    size: raw.readUInt32LE(108) * 2 ** 32 + raw.readUInt32LE(4),
    flags: raw.readUInt32LE(32),
    block: raw.subarray(40, 100),
  };
}

/** The inode number of `name` in a directory (its blocks through its extents), if listed. */
function findEntry(fs: Fs, dir: Inode, name: string): number | undefined {
  need(
    (dir.flags & EXTENTS_FL) !== 0 && (dir.flags & INLINE_DATA_FL) === 0,
    'the root directory is not mapped by extents',
  );
  const wanted = Buffer.from(name);
  for (const e of leafExtents(fs, dir.block)) {
    if (e.uninit) continue;
    for (let b = 0; b < e.length && (e.logical + b) * fs.blockSize < dir.size; b++) {
      const block = fs.read((e.physical + b) * fs.blockSize, fs.blockSize);
      for (let at = 0; at + 8 <= block.length;) {
        const number = block.readUInt32LE(at);
        const recLen = block.readUInt16LE(at + 4);
        const nameLen = block[at + 6]!;
        need(
          recLen >= 8 && recLen % 4 === 0 && at + recLen <= block.length,
          'a directory entry that does not add up',
        );
        if (
          number !== 0 &&
          nameLen === wanted.length &&
          block.subarray(at + 8, at + 8 + nameLen).equals(wanted)
        )
          return number;
        at += recLen;
      }
    }
  }
  return undefined;
}

/** The leaf extents under an inode's extent header (its `i_block`), in tree order. */
function leafExtents(fs: Fs, iBlock: Buffer): Extent[] {
  const out: Extent[] = [];
  const walk = (node: Buffer, depthLeft: number): void => {
    need(node.readUInt16LE(0) === EXTENT_MAGIC, 'an extent header without its magic');
    const entries = node.readUInt16LE(2);
    const depth = node.readUInt16LE(6);
    need(
      depth <= depthLeft && 12 + entries * 12 <= node.length,
      'an extent tree that does not add up',
    );
    for (let i = 0; i < entries; i++) {
      const at = 12 + i * 12;
      if (depth === 0) {
        const length = node.readUInt16LE(at + 4);
        out.push({
          logical: node.readUInt32LE(at),
          physical: node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8),
          length: length > 32768 ? length - 32768 : length,
          uninit: length > 32768,
        });
      } else {
        const child = node.readUInt16LE(at + 8) * 2 ** 32 + node.readUInt32LE(at + 4);
        walk(fs.read(child * fs.blockSize, fs.blockSize), depth - 1);
      }
    }
  };
  walk(iBlock, 5);
  return out;
}
