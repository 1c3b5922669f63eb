import test from 'ava';
import { parseFilefrag } from '../../../src/harness/fs/store-extents.ts';

test('filefrag -v -b512: the extents as device sectors, sorted and merged', (t) => {
  // e2fsprogs 1.47 output for a two-extent file (the second with an "expected" column).
  const output = `Filesystem type is: ef53
File size of /mnt/powercut-x/store.db is 3145728 (6144 blocks of 512 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..    4095:      69632..     73727:   4096:
   1:     4096..    6143:      81920..     83967:   2048:      73728: last,eof
/mnt/powercut-x/store.db: 2 extents found
`;
  t.deepEqual(parseFilefrag(output), {
    extents: [
      { fileSector: 0, start: 69632, sectors: 4096 },
      { fileSector: 4096, start: 81920, sectors: 2048 },
    ],
    ranges: [
      { start: 69632, sectors: 4096 },
      { start: 81920, sectors: 2048 },
    ],
  });
  // Adjacent extents (listed out of order) become one range.
  const adjacent = ` ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        8..      15:        208..       215:      8:        200: last,eof
   1:        0..       7:        200..       207:      8:
`;
  t.deepEqual(parseFilefrag(adjacent), {
    extents: [
      { fileSector: 0, start: 200, sectors: 8 },
      { fileSector: 8, start: 208, sectors: 8 },
    ],
    ranges: [{ start: 200, sectors: 16 }],
  });
});

test('filefrag: an extent with no fixed place, or no extent at all, confines nothing', (t) => {
  const delayed = ` ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..       7:          0..         7:      8:             last,unknown_loc,delalloc,eof
`;
  t.regex((parseFilefrag(delayed) as { reason: string }).reason, /no fixed place/);
  t.deepEqual(parseFilefrag('/mnt/x/store.db: 0 extents found\n'), {
    reason: 'filefrag listed no extent',
  });
});
