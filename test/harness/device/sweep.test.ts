import test from 'ava';
import { parseListing, planSweep, type SweepListing } from '../../../src/harness/device/sweep.ts';

const live = 'aaaaaaaa';
const stale = 'bbbbbbbb';
const gone = 'cccccccc'; // its lock file was already removed: nothing proves it alive

const listing = (): SweepListing => ({
  mountPoints: [
    '/',
    '/mnt/data',
    `/mnt/powercut-${live}0`,
    `/mnt/powercut-${stale}1`,
    `/mnt/powercut-${stale}2-state`,
  ],
  tables: [
    'vg0-root',
    `powercut-${live}0`,
    `powercut-${stale}1`,
    `powercut-${stale}2-state`,
    'powercut-probe',
    `powercut-${gone}3`,
  ],
  loops: new Map([
    ['/dev/loop0', '/home/me/disk.img'],
    ['/dev/loop1', `/var/tmp/powercut/${live}0/backing.img`],
    ['/dev/loop2', `/var/tmp/powercut/${stale}1/backing.img`],
    ['/dev/loop3', '/var/tmp/powercut/probe/backing.img'],
  ]),
  runDirs: ['owners', `${live}0`, `${stale}1`, 'probe', 'notes.txt'],
  mountDirs: [
    `/mnt/powercut-${live}0`,
    `/mnt/powercut-${stale}1`,
    `/mnt/powercut-${stale}9`,
    '/mnt/powercut-x',
  ],
  owners: new Map([
    [live, 'live'],
    [stale, 'stale'],
  ]),
});

test('the sweep plans removals only for runs whose owner is not alive', (t) => {
  const plan = planSweep(listing());
  const touched = plan.actions.map((a) => a.what);
  for (const action of plan.actions) {
    t.notRegex(action.script, new RegExp(live), `a live run is never named: ${action.script}`);
    t.notRegex(
      action.script,
      /vg0-root|\/mnt\/data|\/home\/me|loop0|loop1|loop3|probe/,
      action.script,
    );
    t.notRegex(
      action.script,
      /fuser -\w*k|(rm|rmdir|umount|losetup -d|dmsetup remove)[^\n]*\*/,
      action.script,
    );
  }
  t.deepEqual(plan.liveRuns, [`${live}0`]);
  t.true(touched.includes(`mount /mnt/powercut-${stale}1`));
  t.true(touched.includes(`mount /mnt/powercut-${stale}2-state`));
  t.true(touched.includes(`table powercut-${stale}1`));
  t.true(
    touched.includes(`table powercut-${gone}3`),
    'no lock file at all: nothing proves it alive',
  );
  t.true(touched.includes('loop /dev/loop2'));
  t.true(touched.includes(`dir /var/tmp/powercut/${stale}1`));
  t.true(touched.includes(`dir /mnt/powercut-${stale}9`));
  t.true(touched.includes(`owner lock ${stale}`));
  t.false(
    touched.some((w) => w.includes('powercut-x') || w.includes('probe')),
    'not run ids: never ours',
  );
  // Processes first (the engine holds the mount), the owner lock last.
  t.is(plan.actions[0]!.what, `engine of ${stale}1`);
  t.is(plan.actions.at(-1)!.what, `owner lock ${stale}`);
});

test("the sweep leaves its own owner's runs alone even if its lock looked free", (t) => {
  const l = listing();
  l.owners.set(live, 'stale');
  const plan = planSweep(l, live);
  t.false(plan.actions.some((a) => a.script.includes(live)));
});

test('the listing script output is parsed section by section', (t) => {
  const parsed = parseListing(
    [
      '--- mounts',
      '/',
      '/mnt/powercut-aaaaaaaa0',
      '--- tables',
      'powercut-aaaaaaaa0',
      '--- loops',
      '{"loopdevices":[{"name":"/dev/loop1","back-file":"/var/tmp/powercut/aaaaaaaa0/backing.img"}]}',
      '--- dirs',
      'owners',
      'aaaaaaaa0',
      '--- mountdirs',
      'powercut-aaaaaaaa0',
      '--- owners',
      'live aaaaaaaa',
      'stale bbbbbbbb',
      'weird ../../x',
    ].join('\n'),
  );
  t.deepEqual(parsed.mountPoints, ['/', '/mnt/powercut-aaaaaaaa0']);
  t.deepEqual(parsed.tables, ['powercut-aaaaaaaa0']);
  t.is(parsed.loops.get('/dev/loop1'), '/var/tmp/powercut/aaaaaaaa0/backing.img');
  t.deepEqual(parsed.mountDirs, ['/mnt/powercut-aaaaaaaa0']);
  t.deepEqual(
    [...parsed.owners],
    [
      ['aaaaaaaa', 'live'],
      ['bbbbbbbb', 'stale'],
    ],
  );
});
