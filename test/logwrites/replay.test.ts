import test from 'ava';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
  truncateSync,
  writeSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLog } from '../../src/logwrites/format.ts';
import { applyEntries, fdReader, sparseCopy } from '../../src/logwrites/replay.ts';
import { filled, syntheticLog } from './synthetic-log.ts';

const dir = mkdtempSync(join(tmpdir(), 'powercut-replay-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('replaying a log rebuilds the image; dropped entries and discards are honoured', (t) => {
  const log = syntheticLog([
    { write: 0, data: filled(1, 1024) },
    { write: 1, data: filled(2) }, // overwrites the 2nd sector of the first write
    { flush: true },
    { discard: 4, sectors: 2 },
    { write: 6, data: filled(3) },
  ]);
  const logPath = join(dir, 'log');
  writeFileSync(logPath, log);
  const logFd = openSync(logPath, 'r');
  const { entries } = parseLog(fdReader(logFd), log.length);
  const image = (skip: number[]): Buffer => {
    const path = join(dir, `img-${skip.join('-')}`);
    writeFileSync(path, Buffer.alloc(8 * 512, 0xee));
    const fd = openSync(path, 'r+');
    applyEntries(fdReader(logFd), fd, entries, 512, new Set(skip));
    closeSync(fd);
    return readFileSync(path);
  };
  const all = image([]);
  t.deepEqual(all.subarray(0, 512), Buffer.from(filled(1)));
  t.deepEqual(all.subarray(512, 1024), Buffer.from(filled(2)));
  t.deepEqual(all.subarray(2 * 512, 4 * 512), Buffer.alloc(1024, 0xee), 'untouched sectors stay');
  t.deepEqual(all.subarray(4 * 512, 6 * 512), Buffer.alloc(1024), 'a discard reads back as zeros');
  t.deepEqual(all.subarray(6 * 512, 7 * 512), Buffer.from(filled(3)));
  const withoutSecond = image([1]);
  t.deepEqual(
    withoutSecond.subarray(512, 1024),
    Buffer.from(filled(1)),
    'the dropped overwrite is not there',
  );
  closeSync(logFd);
});

test('sparseCopy copies content and size, leaving zero chunks as holes', (t) => {
  const from = join(dir, 'sparse-src');
  writeFileSync(from, '');
  truncateSync(from, 4 << 20);
  const fd = openSync(from, 'r+');
  const data = Buffer.from('hello');
  writeSync(fd, data, 0, data.length, 3 << 20);
  closeSync(fd);
  const to = join(dir, 'sparse-dst');
  sparseCopy(from, to);
  t.deepEqual(readFileSync(to), readFileSync(from));
  t.true(statSync(to).blocks * 512 < 1 << 20, 'holes stay holes');
});
