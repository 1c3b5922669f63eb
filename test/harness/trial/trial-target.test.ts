import test from 'ava';
import { prepareTarget } from '../../../src/harness/trial/trial-target.ts';
import { FakeTarget } from '../fake-target.ts';

// The one way trials reach a target: the guest engine installed once per target, however
// many trials (or guests' worth of callers) ask for it at once.

const installs = (target: FakeTarget): number =>
  target.commands.filter((c) => c.includes('sha256sum')).length;

test('concurrent callers share one install of the guest engine per target', async (t) => {
  const target = new FakeTarget([], (c) => (c.includes('sha256sum') ? 50 : 0));
  await Promise.all([prepareTarget(target), prepareTarget(target), prepareTarget(target)]);
  await prepareTarget(target);
  t.is(installs(target), 1);
  const other = new FakeTarget();
  await prepareTarget(other);
  t.is(installs(other), 1, 'another target gets its own install');
});

test('a failed install is not remembered: the next caller installs again', async (t) => {
  let fail = true;
  // The target has no node, and the one uploaded does not run there: the install fails.
  const target = new FakeTarget([
    (c) => (c.includes('--version') && fail ? { code: 1, stdout: 'missing' } : undefined),
  ]);
  await t.throwsAsync(prepareTarget(target));
  fail = false;
  await prepareTarget(target);
  t.is(installs(target), 1, 'installed on the second try');
});
