import test from 'ava';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ext4BlockSize,
  ext4FileCommands,
  openExt4File,
  parseExt4File,
} from '../../src/logwrites/ext4-file.ts';
import { findExt4File, lookupExt4File } from '../../src/logwrites/ext4-lookup.ts';

/** An ext4 image (mkfs.ext4 -d) holding the files `fill` writes into its source directory. */
async function imageWith(
  dir: string,
  blockSize: number,
  fill: (root: string) => void,
  features: string[] = [],
): Promise<string> {
  const root = join(dir, `root-${blockSize}`);
  mkdirSync(root);
  fill(root);
  const image = join(dir, `fs-${blockSize}${features.join('')}.img`);
  writeFileSync(image, '');
  await execa('truncate', ['-s', '16M', image]);
  const opts = features.length > 0 ? ['-O', features.join(',')] : [];
  await execa('mkfs.ext4', ['-q', '-F', '-b', String(blockSize), ...opts, '-d', root, image]);
  return image;
}

/** Runs `body` with a scratch directory, removed afterwards. */
async function inScratch(body: (dir: string) => Promise<unknown>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-ext4-file-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** debugfs's output and errors together, as the screen's script keeps them. */
const debugfs = async (image: string, commands: string): Promise<string> =>
  (await execa('debugfs', ['-f', '-', image], { input: commands, reject: false, all: true })).all;

test('a file read through its extents is what debugfs dump writes: plain, sparse (an extent tree), uninitialized extents, both block sizes', async (t) =>
  inScratch(async (dir) => {
    for (const blockSize of [1024, 4096]) {
      const image = await imageWith(dir, blockSize, (root) => {
        writeFileSync(
          join(root, 'plain'),
          Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)),
        );
        // One block written in every three: 20 extents, more than an inode holds (a tree).
        const sparse = Buffer.alloc(60 * 3 * blockSize);
        for (let b = 0; b < 60; b += 3) sparse.fill(b + 1, b * blockSize, (b + 1) * blockSize);
        writeFileSync(join(root, 'sparse'), sparse);
        // A root directory of several blocks (indexed once it outgrows one).
        for (let i = 0; i < 300; i++) writeFileSync(join(root, `f${i}-${'n'.repeat(i % 40)}`), '');
      });
      // Allocated, not written, inside the file's size: reads as zeros.
      await execa('debugfs', ['-w', '-R', 'fallocate /sparse 150 170', image]);
      t.is(ext4BlockSize(image), blockSize);
      const last = `f299-${'n'.repeat(299 % 40)}`;
      t.deepEqual(
        lookupExt4File(image, last),
        parseExt4File(await debugfs(image, ext4FileCommands(last))),
        `${last}: found in a later block of the root directory`,
      );
      // e2fsck -D indexes the directory (an htree: its root block hides the index in '..').
      await execa('e2fsck', ['-fyD', image], { reject: false });
      t.regex(await debugfs(image, 'stat /\n'), /Flags: 0x81000/, 'the root directory is indexed');
      t.deepEqual(
        lookupExt4File(image, last),
        parseExt4File(await debugfs(image, ext4FileCommands(last))),
        `${last}: found in the indexed root directory`,
      );
      for (const name of ['plain', 'sparse']) {
        // Twice, under CI's load, debugfs's answer here had no stat lines at all (never
        // reproduced alone): what it printed is logged, and it is asked once more.
        let output = await debugfs(image, ext4FileCommands(name));
        if (!/\bType:/.test(output)) {
          t.log(
            `debugfs printed no stat for /${name} (${blockSize}); asked again. It said:\n${output}`,
          );
          output = await debugfs(image, ext4FileCommands(name));
        }
        const file = parseExt4File(output);
        if (file.kind !== 'extents')
          return t.fail(`${name}: ${JSON.stringify(file)}; debugfs said:\n${output}`);
        t.deepEqual(
          lookupExt4File(image, name),
          file,
          `${name}, ${blockSize}: read as debugfs says`,
        );
        const dumped = join(dir, `${name}-${blockSize}.dump`);
        await execa('debugfs', ['-R', `dump -p /${name} ${dumped}`, image]);
        const expected = readFileSync(dumped);
        const opened = openExt4File(image, file);
        try {
          t.true(
            Buffer.from(opened.source.materialize()).equals(expected),
            `${name}, ${blockSize}`,
          );
          // A range at a time: ranges that start and end inside blocks, cross extents, holes and
          // uninitialized extents, and run past the file's end.
          for (let start = 0; start < file.size; start += 5003) {
            const end = Math.min(file.size + 4096, start + 3 * blockSize + 17);
            const out = new Uint8Array(end - start + 8).fill(0xee);
            opened.source.readInto(start, end, out, 8);
            const want = Buffer.alloc(end - start);
            expected.copy(want, 0, start, Math.min(end, expected.length));
            t.true(
              Buffer.from(out.subarray(8)).equals(want) &&
                out.subarray(0, 8).every((b) => b === 0xee),
              `${name}, ${blockSize}: bytes ${start}-${end}`,
            );
          }
        } finally {
          opened.close();
        }
        if (name === 'sparse') {
          t.true(file.extents.length > 4, 'a tree of extents');
          t.true(
            file.extents.some((e) => e.uninit),
            'an uninitialized extent',
          );
        }
      }
    }
  }));

test('a missing file, a directory and a block-mapped file are told apart (only debugfs reads the last)', async (t) =>
  inScratch(async (dir) => {
    const image = await imageWith(
      dir,
      1024,
      (root) => {
        writeFileSync(join(root, 'old'), 'x'.repeat(5000));
        mkdirSync(join(root, 'sub'));
      },
      ['^extent', '^64bit'],
    );
    t.is(parseExt4File(await debugfs(image, ext4FileCommands('nope'))).kind, 'missing');
    // Read straight from the image, a filesystem without extents is left to debugfs.
    for (const name of ['nope', 'sub', 'old']) t.is(lookupExt4File(image, name).kind, 'other');
    const sub = parseExt4File(await debugfs(image, ext4FileCommands('sub')));
    t.is(sub.kind, 'other');
    const old = parseExt4File(await debugfs(image, ext4FileCommands('old')));
    t.like(old, { kind: 'other' });
    t.regex((old as { why: string }).why, /not mapped by extents/);
  }));

test('read straight from the image: a missing name, a directory, a file past a deleted entry, a name with a slash', async (t) =>
  inScratch(async (dir) => {
    const image = await imageWith(dir, 4096, (root) => {
      writeFileSync(join(root, 'gone'), 'x');
      writeFileSync(join(root, 'kept'), 'y'.repeat(9000));
      mkdirSync(join(root, 'sub'));
    });
    await execa('debugfs', ['-w', '-R', 'rm /gone', image]);
    for (const name of ['nope', 'gone', 'sub', 'kept']) {
      const byDebugfs = parseExt4File(await debugfs(image, ext4FileCommands(name)));
      const direct = lookupExt4File(image, name);
      if (name === 'sub') t.is(direct.kind, 'other', 'a directory');
      else t.deepEqual(direct, byDebugfs, name);
    }
    t.like(lookupExt4File(image, 'sub/x'), { kind: 'other' });
    t.like(lookupExt4File(join(dir, 'root-4096', 'kept'), 'kept'), { kind: 'other' });
  }));

test('where the image is read straight it declines (meta_bg, a journal not replayed), debugfs answers', async (t) =>
  inScratch(async (dir) => {
    const image = await imageWith(
      dir,
      1024,
      (root) => writeFileSync(join(root, 'store'), 'z'.repeat(20_000)),
      ['meta_bg', '^resize_inode'],
    );
    const byDebugfs = parseExt4File(await debugfs(image, ext4FileCommands('store')));
    t.is(byDebugfs.kind, 'extents');
    const declined = lookupExt4File(image, 'store');
    t.regex(declined.kind === 'other' ? declined.why : declined.kind, /meta_bg/);
    t.deepEqual(await findExt4File(image, 'store'), byDebugfs);
    // A journal that still needs recovery: e2fsck (as the screen does) must replay it first.
    await execa('debugfs', ['-w', '-R', 'feature needs_recovery', image]);
    const unreplayed = lookupExt4File(image, 'store');
    t.regex(unreplayed.kind === 'other' ? unreplayed.why : unreplayed.kind, /needs recovery/);
  }));
