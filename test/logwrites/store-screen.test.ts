import test from 'ava';
import type { LogEntry } from '../../src/logwrites/format.ts';
import {
  applyToStore,
  screenStoreStates,
  type StoreScreenConfig,
} from '../../src/logwrites/store-screen.ts';

/** A recording whose data area holds each entry's sectors filled with a byte of its own. */
function recording(
  writes: { sector: number; nrSectors: number; fill: number; discard?: boolean }[],
  sectorSize = 512,
): Pick<StoreScreenConfig, 'readLog' | 'entries' | 'sectorSize'> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const entries: LogEntry[] = writes.map((w, index) => {
    const bytes = w.discard ? 0 : w.nrSectors * sectorSize;
    chunks.push(new Uint8Array(bytes).fill(w.fill));
    const e: LogEntry = {
      index,
      dataOffset: offset,
      sector: w.sector,
      nrSectors: w.nrSectors,
      flush: false,
      fua: false,
      discard: w.discard ?? false,
      metadata: false,
    };
    offset += bytes;
    return e;
  });
  const log = Buffer.concat(chunks);
  return { readLog: (at, length) => log.subarray(at, at + length), entries, sectorSize };
}

// The store: file sectors 0-7 at device sectors 100-107, file sectors 8-15 at 40-47.
const extents = [
  { fileSector: 0, start: 100, sectors: 8 },
  { fileSector: 8, start: 40, sectors: 8 },
];
const sectorsOf = (store: Uint8Array): number[] =>
  Array.from({ length: store.length / 512 }, (_, i) => store[i * 512]!);

test("a write lands at its file offset, only the part inside the store's extents", (t) => {
  const log = recording([
    { sector: 98, nrSectors: 4, fill: 1 }, // 98-101: file sectors 0-1
    { sector: 46, nrSectors: 4, fill: 2 }, // 46-49: file sectors 14-15
    { sector: 0, nrSectors: 40, fill: 3 }, // outside the store entirely
  ]);
  const store = new Uint8Array(16 * 512);
  applyToStore({ ...log, extents }, store, 0, 3);
  t.deepEqual(sectorsOf(store), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2]);
});

test("a misdirected write lands at its target's file offset, its own blocks untouched", (t) => {
  const log = recording([
    { sector: 100, nrSectors: 2, fill: 5 }, // file 0-1
    { sector: 102, nrSectors: 2, fill: 6 }, // file 2-3, misdirected to device 44 (file 12-13)
  ]);
  const store = new Uint8Array(16 * 512);
  applyToStore({ ...log, extents }, store, 0, 2, new Set(), {
    misdirect: { entry: 1, sector: 44 },
  });
  t.deepEqual(sectorsOf(store), [5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 6, 0, 0]);
});

test('dropped entries are skipped, a torn one keeps its first sectors, a discard zeroes', (t) => {
  const log = recording([
    { sector: 100, nrSectors: 8, fill: 5 }, // file 0-7
    { sector: 40, nrSectors: 8, fill: 6 }, // file 8-15, dropped
    { sector: 102, nrSectors: 4, fill: 7 }, // file 2-5, torn after 2 sectors
    { sector: 106, nrSectors: 1, fill: 0, discard: true }, // file 6 zeroed
  ]);
  const store = new Uint8Array(16 * 512);
  const config = { ...log, extents };
  applyToStore(config, store, 0, 4, new Set([1]), { torn: { entry: 2, sectors: 2 } });
  t.deepEqual(sectorsOf(store), [5, 5, 7, 7, 5, 5, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('a log in 4096-byte sectors maps onto 512-byte extents', (t) => {
  const log = recording([{ sector: 5, nrSectors: 1, fill: 9 }], 4096); // device 40-47
  const store = new Uint8Array(16 * 512);
  applyToStore({ ...log, extents }, store, 0, 1);
  t.deepEqual(sectorsOf(store), [0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]);
});

test('identical store images are recovered once and counted once, whatever writes made them; different ones apart', async (t) => {
  // Entries 0 and 1 write the same bytes to the same place; entry 2 writes other bytes there.
  const log = recording([
    { sector: 100, nrSectors: 8, fill: 4 },
    { sector: 100, nrSectors: 8, fill: 4 },
    { sector: 100, nrSectors: 8, fill: 8 },
  ]);
  const options = { pageSize: 4096, pages: 1, writers: 1, batchWindowUs: 0, batchMaxOps: 1 };
  const states = [
    { id: '1', at: 1, dropped: [] }, // entry 0 alone
    { id: '2~0', at: 2, dropped: [0] }, // entry 1 alone: the same bytes
    { id: '0', at: 0, dropped: [] }, // nothing: zeros
    { id: '3~0.1', at: 3, dropped: [0, 1] }, // entry 2 alone: other bytes
  ];
  const { reports, distinct } = await screenStoreStates(
    {
      ...log,
      extents,
      storeBytes: 16 * 512,
      engine: { mode: 'fsync', options },
      rawBytes: 16 * 512,
    },
    states,
  );
  t.is(distinct, 3);
  const byId = new Map(reports.map((r) => [r.id, r]));
  t.is(byId.get('1')!.rawPages, byId.get('2~0')!.rawPages, 'one recovery for the two');
  t.not(byId.get('1')!.rawPages, byId.get('3~0.1')!.rawPages);
  // Page 0's two slots: the first holds entry 2's bytes, the second is still zeros.
  const [first, second] = byId.get('3~0.1')!.rawPages!.get(0)!;
  t.true(first!.every((b) => b === 8) && second!.every((b) => b === 0));
  t.true(
    byId
      .get('0')!
      .rawPages!.get(0)!
      .every((slot) => slot.every((b) => b === 0)),
  );
});
