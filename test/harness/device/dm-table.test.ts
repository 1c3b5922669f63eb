import test from 'ava';
import { flakeyTable, linearTable, logWritesTable } from '../../../src/harness/device/dm-table.ts';
import { resourceNames, isOurBackingFile, isOurTable } from '../../../src/harness/device/names.ts';
import { parseLoopList } from '../../../src/harness/device/loop-check.ts';

test('table lines follow dm-flakey.rst: <dev> <offset> <up> <down> [<num_features> <features>]', (t) => {
  t.is(linearTable(2048, '/dev/loop0'), '0 2048 linear /dev/loop0 0');
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'drop_writes' }),
    '0 2048 flakey /dev/loop0 0 0 1 1 drop_writes',
  );
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'error_writes' }),
    '0 2048 flakey /dev/loop0 0 0 1 1 error_writes',
  );
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'corrupt_bio_byte', corrupt: { byte: 32, value: 1 } }),
    '0 2048 flakey /dev/loop0 0 0 1 5 corrupt_bio_byte 32 w 1 0',
  );
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'drop_writes', schedule: { up: 5, down: 1 } }),
    '0 2048 flakey /dev/loop0 0 5 1 1 drop_writes',
  );
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'error_reads' }),
    '0 2048 flakey /dev/loop0 0 0 1',
    '6.1: no feature = all I/O errors',
  );
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'error_reads' }, true),
    '0 2048 flakey /dev/loop0 0 0 1 1 error_reads',
  );
});

test('a fault confined to ranges: flakey over each range, linear between, the whole device covered', (t) => {
  const fault = {
    kind: 'corrupt_bio_byte' as const,
    corrupt: { byte: 40, value: 88 },
    within: [
      { start: 0, sectors: 8 },
      { start: 100, sectors: 50 },
      { start: 2000, sectors: 100 }, // runs past the device's end: clipped
    ],
  };
  const lines = flakeyTable(2048, '/dev/loop0', fault).split('\n');
  t.deepEqual(lines, [
    '0 8 flakey /dev/loop0 0 0 1 5 corrupt_bio_byte 40 w 88 0',
    '8 92 linear /dev/loop0 8',
    '100 50 flakey /dev/loop0 100 0 1 5 corrupt_bio_byte 40 w 88 0',
    '150 1850 linear /dev/loop0 150',
    '2000 48 flakey /dev/loop0 2000 0 1 5 corrupt_bio_byte 40 w 88 0',
  ]);
  // Every sector once, in order: each line starts where the previous one ended.
  let at = 0;
  for (const line of lines) {
    const [start, length] = line.split(' ').map(Number);
    t.is(start, at);
    at += length!;
  }
  t.is(at, 2048);
  t.is(
    flakeyTable(2048, '/dev/loop0', { kind: 'drop_writes', within: [] }),
    '0 2048 linear /dev/loop0 0',
    'no range: nothing faulted',
  );
});

test('a log-writes table logs the data device to the log device', (t) => {
  t.is(logWritesTable(2048, '/dev/loop0', '/dev/loop1'), '0 2048 log-writes /dev/loop0 /dev/loop1');
});

test('resource names are derived from a validated run id only', (t) => {
  t.deepEqual(resourceNames('abcdefgh0'), {
    runId: 'abcdefgh0',
    table: 'powercut-abcdefgh0',
    mapperPath: '/dev/mapper/powercut-abcdefgh0',
    backingDir: '/var/tmp/powercut/abcdefgh0',
    backingFile: '/var/tmp/powercut/abcdefgh0/backing.img',
    logFile: '/var/tmp/powercut/abcdefgh0/log.img',
    pidFile: '/var/tmp/powercut/abcdefgh0/engine.pid',
    mountPoint: '/mnt/powercut-abcdefgh0',
    stateTable: 'powercut-abcdefgh0-state',
    stateMountPoint: '/mnt/powercut-abcdefgh0-state',
  });
  t.true(isOurTable('powercut-abcdefgh0-state'));
  for (const bad of [
    '',
    'a b',
    'x;rm -rf /',
    '../x',
    'A'.repeat(9),
    'a'.repeat(17),
    'abcdefgh',
    'probe',
  ])
    t.throws(() => resourceNames(bad), undefined, bad);
  t.true(isOurTable('powercut-abcdefgh0'));
  t.false(isOurTable('vg0-root'));
  t.false(isOurTable('powercut-probe'), 'not a run id: no owner, never ours');
  t.true(isOurBackingFile('/var/tmp/powercut/abcdefgh0/backing.img'));
  t.false(isOurBackingFile('/var/tmp/powercut/../etc/passwd'));
  t.false(isOurBackingFile('/home/me/disk.img'));
});

test('losetup -J listing is parsed (deleted backing files too)', (t) => {
  const json =
    '{"loopdevices":[{"name":"/dev/loop0","back-file":"/var/tmp/powercut/x/backing.img (deleted)"},{"name":"/dev/loop1","back-file":"/tmp/foreign.img"}]}';
  t.deepEqual(
    [...parseLoopList(json)],
    [
      ['/dev/loop0', '/var/tmp/powercut/x/backing.img'],
      ['/dev/loop1', '/tmp/foreign.img'],
    ],
  );
  t.is(parseLoopList('').size, 0);
});
