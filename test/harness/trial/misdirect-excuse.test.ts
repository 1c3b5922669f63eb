import test from 'ava';
import type { LogEntry } from '../../../src/logwrites/format.ts';
import { misdirectExcuse } from '../../../src/harness/trial/misdirect-excuse.ts';
import type { CrashState } from '../../../src/logwrites/states.ts';

const write = (index: number, sector: number, nrSectors: number): LogEntry => ({
  index,
  dataOffset: 0,
  sector,
  nrSectors,
  flush: false,
  fua: false,
  discard: false,
  metadata: false,
});

// 1 KiB pages, two slots each: page p at file bytes [2p KiB, 2p+2 KiB). The file's first 8
// sectors (pages 0-1) at device 100, the next 8 (pages 2-3) at device 40.
const excuse = misdirectExcuse({
  entries: [write(0, 102, 2), write(1, 40, 4)],
  sectorSize: 512,
  extents: [
    { fileSector: 0, start: 100, sectors: 8 },
    { fileSector: 8, start: 40, sectors: 8 },
  ],
  pageSize: 1024,
});
const state = (misdirect?: { entry: number; sector: number }): CrashState => ({
  id: 'x',
  at: 2,
  dropped: [],
  boundary: misdirect ? 'misdirect' : 'flush',
  ...(misdirect ? { misdirect } : {}),
});

test("a misdirected write excuses its own page and the page it landed on, through the store's extents", (t) => {
  // Entry 0 writes page 0's second slot (file sectors 2-3); it landed at device 44: page 3.
  t.deepEqual([...excuse(state({ entry: 0, sector: 44 }))!].sort(), [0, 3]);
  // Entry 1 writes page 2 (both slots); it landed at device 104: page 1.
  t.deepEqual([...excuse(state({ entry: 1, sector: 104 }))!].sort(), [1, 2]);
});

test('a state without a misdirected write excuses nothing', (t) => {
  t.is(excuse(state()), undefined);
});
