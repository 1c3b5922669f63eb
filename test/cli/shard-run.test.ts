import test from 'ava';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQemuTarget } from '../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../src/harness/target/ssh.ts';

// Two shards as two processes (each its own powercut run against the guest over ssh, at the
// same time), merged, against one unsharded run of the same plan.
let target: SshTarget;
test.before(async () => {
  target = await startQemuTarget();
});
test.after.always(async () => {
  await target?.teardown();
});

function cli(args: string[]) {
  const a = target.access!;
  return execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    reject: false,
    all: true,
    env: {
      POWERCUT_SSH_HOST: a.host,
      POWERCUT_SSH_PORT: String(a.port),
      POWERCUT_SSH_KEY: a.privateKeyPath,
      POWERCUT_SSH_HOST_KEY: a.hostKey ?? '',
    },
  });
}

type Summary = { trials: { key: string; asExpected?: boolean; error?: string }[] };

const outcomes = (s: Summary): Record<string, string> =>
  Object.fromEntries(
    s.trials.map((r) => [r.key, r.error !== undefined ? 'error' : r.asExpected ? 'ok' : 'finding']),
  );

test('[vm] two shards in two processes merge into the same trials and outcomes as one unsharded run (on two slots of one ssh target)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-shards-'));
  const scenario = join(dir, 'shards.yaml');
  writeFileSync(
    scenario,
    [
      'engine: { mode: fsync }',
      'workload: { ops: 40, pages: 16 }',
      'fault: { kind: drop_writes, arm: { afterOp: 20 } }',
      'matrix: { fs: [ext4, xfs], mode: [plain, fsync] }',
      'expectByMode:',
      '  plain: { lost-ack: some }',
      '  fsync: { lost-ack: none }',
      '',
    ].join('\n'),
  );
  const common = [
    scenario,
    '--target',
    'ssh',
    '--seed',
    '4242',
    '--run-id',
    'nightly',
    '--no-progress',
  ];
  // The unsharded run uses two slots on the one guest (two connections, --jobs 2).
  const whole = await cli(['run', ...common, '--jobs', '2', '--store', join(dir, 'whole')]);
  t.is(whole.exitCode, 0, whole.all);
  t.regex(whole.all, /^targets: 2 of 2 slots ready/m);
  const [one, two] = await Promise.all([
    cli(['run', ...common, '--shard', '1/2', '--store', join(dir, 'shard-1')]),
    cli(['run', ...common, '--shard', '2/2', '--store', join(dir, 'shard-2')]),
  ]);
  t.is(one.exitCode, 0, one.all);
  t.is(two.exitCode, 0, two.all);
  t.regex(one.all, /shard 1\/2: 2 of 4 trials/);
  const merged = await cli([
    'merge',
    join(dir, 'shard-1'),
    join(dir, 'shard-2'),
    '--out',
    join(dir, 'merged'),
  ]);
  t.is(merged.exitCode, 0, merged.all);
  const wholeRun = JSON.parse(
    readFileSync(join(dir, 'whole', 'shards', 'nightly', 'results.json'), 'utf8'),
  ) as Summary;
  const mergedRun = JSON.parse(
    readFileSync(join(dir, 'merged', 'results.json'), 'utf8'),
  ) as Summary;
  t.is(wholeRun.trials.length, 4);
  t.deepEqual(outcomes(mergedRun), outcomes(wholeRun));
  const manifest = JSON.parse(readFileSync(join(dir, 'shard-2', 'shard.json'), 'utf8')) as {
    seed: number;
    target: { kind: string; kernel: string };
    assigned: string[];
  };
  t.is(manifest.seed, 4242);
  t.is(manifest.target.kind, 'ssh');
  t.regex(manifest.target.kernel, /^\d+\.\d+/);
  t.is(manifest.assigned.length, 2);
  // The merged store holds the trials themselves: each replays from there.
  const trial = join(dir, 'merged', 'shards', 'nightly', manifest.assigned[0]!.split('/')[1]!);
  t.truthy(JSON.parse(readFileSync(join(trial, 'trial.json'), 'utf8')));
});
