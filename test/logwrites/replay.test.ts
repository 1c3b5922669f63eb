import test from 'ava';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLog } from '../../src/logwrites/format.ts';
import { applyEntries, fdReader } from '../../src/logwrites/replay.ts';
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

test('a discard over a range that is already zero writes nothing: a sparse image stays sparse', (t) => {
  const log = syntheticLog([{ discard: 0, sectors: 8192 }]); // 4 MiB, as mkfs discards a device
  const image = join(dir, 'sparse');
  writeFileSync(image, '');
  truncateSync(image, 4 << 20);
  const fd = openSync(image, 'r+');
  applyEntries(
    (o, n) => log.subarray(o, o + n),
    fd,
    parseLog((o, n) => log.subarray(o, o + n), log.length).entries,
    512,
  );
  closeSync(fd);
  t.is(statSync(image).blocks, 0);
  t.is(statSync(image).size, 4 << 20);
});

test('a torn write is replayed in part: its first sectors new, the rest as they were', (t) => {
  const log = syntheticLog([{ write: 0, data: filled(7, 4 * 512) }]);
  const logPath = join(dir, 'torn-log');
  writeFileSync(logPath, log);
  const logFd = openSync(logPath, 'r');
  const { entries } = parseLog(fdReader(logFd), log.length);
  const path = join(dir, 'torn-img');
  writeFileSync(path, Buffer.alloc(4 * 512, 0xee));
  const fd = openSync(path, 'r+');
  applyEntries(fdReader(logFd), fd, entries, 512, new Set(), { torn: { entry: 0, sectors: 3 } });
  closeSync(fd);
  closeSync(logFd);
  const image = readFileSync(path);
  t.true(image.subarray(0, 3 * 512).every((b) => b === 7));
  t.true(image.subarray(3 * 512).every((b) => b === 0xee));
});

test('a misdirected write is replayed at its target sector, its own place left as it was', (t) => {
  const log = syntheticLog([{ write: 1, data: filled(7, 2 * 512) }]);
  const { entries } = parseLog((o, n) => log.subarray(o, o + n), log.length);
  const path = join(dir, 'misdirect-img');
  writeFileSync(path, Buffer.alloc(6 * 512, 0xee));
  const fd = openSync(path, 'r+');
  applyEntries((o, n) => log.subarray(o, o + n), fd, entries, 512, new Set(), {
    misdirect: { entry: 0, sector: 4 },
  });
  closeSync(fd);
  const image = readFileSync(path);
  t.deepEqual(
    Array.from({ length: 6 }, (_, i) => image[i * 512]),
    [0xee, 0xee, 0xee, 0xee, 7, 7],
  );
});
