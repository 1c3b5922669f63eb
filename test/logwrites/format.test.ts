import test from 'ava';
import { LogFormatError, parseLog } from '../../src/logwrites/format.ts';
import { filled, syntheticLog } from './synthetic-log.ts';

const reader = (log: Uint8Array) => (offset: number, length: number) =>
  log.subarray(offset, offset + length);

test('parses writes, flushes, FUA, discards and marks with their data offsets', (t) => {
  const log = syntheticLog([
    { write: 8, data: filled(1, 1024) },
    { flush: true },
    { mark: 'ack:3' },
    { write: 2, data: filled(2), fua: true },
    { discard: 100, sectors: 16 },
    { mark: 'dm-log-writes-end' },
  ]);
  const index = parseLog(reader(log), log.length);
  t.is(index.sectorSize, 512);
  t.is(index.entries.length, 6);
  const [w, f, m, fua, d, end] = index.entries;
  t.like(w, { index: 0, sector: 8, nrSectors: 2, flush: false, dataOffset: 1024 });
  t.deepEqual(log.subarray(w!.dataOffset, w!.dataOffset + 1024), filled(1, 1024));
  t.like(f, { flush: true, nrSectors: 0 });
  t.is(m!.mark, 'ack:3');
  t.like(fua, { fua: true, sector: 2 });
  t.deepEqual(log.subarray(fua!.dataOffset, fua!.dataOffset + 512), filled(2));
  // A discard carries no data: the next entry follows its header directly.
  t.like(d, { discard: true, sector: 100, nrSectors: 16 });
  t.is(end!.mark, 'dm-log-writes-end');
  t.is(index.usedBytes, log.length);
});

test('4096-byte sectors are the unit of sectors, headers and data', (t) => {
  const log = syntheticLog([{ write: 3, data: filled(7, 4096) }, { flush: true }], 4096);
  const index = parseLog(reader(log), log.length);
  t.is(index.sectorSize, 4096);
  t.like(index.entries[0], { sector: 3, nrSectors: 1, dataOffset: 8192 });
});

test('a device that is not a log, a truncated log and inline data are refused', (t) => {
  const zero = new Uint8Array(4096);
  t.throws(() => parseLog(reader(zero), zero.length), {
    instanceOf: LogFormatError,
    message: /not a dm-log-writes log: magic 0x0/,
  });
  const log = syntheticLog([{ write: 0, data: filled(1) }, { flush: true }]);
  t.throws(() => parseLog(reader(log.subarray(0, 1024)), 1024), {
    message: /entry 1 of 2 lies past the end of the log/,
  });
  const dax = syntheticLog([{ flush: true }]);
  new DataView(dax.buffer, dax.byteOffset).setBigUint64(512 + 24, 5n, true);
  t.throws(() => parseLog(reader(dax), dax.length), { message: /inline data \(DAX\)/ });
});
