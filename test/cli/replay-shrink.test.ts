import test from 'ava';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startQemuTarget } from '../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../src/harness/target/ssh.ts';

// The CLI's replay and shrink commands against the real guest, reached over --target ssh.
let target: SshTarget;
let env: Record<string, string>;
test.before(async () => {
  target = await startQemuTarget();
  const a = target.access!;
  env = {
    POWERCUT_SSH_HOST: a.host,
    POWERCUT_SSH_PORT: String(a.port),
    POWERCUT_SSH_KEY: a.privateKeyPath,
    POWERCUT_SSH_HOST_KEY: a.hostKey ?? '',
  };
});
test.after.always(async () => {
  await target?.teardown();
});

const powercut = (...args: string[]) =>
  execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args, '--target', 'ssh'], {
    reject: false,
    all: true,
    env,
  });
const trialDir = (store: string, scenario: string): string => {
  const run = join(store, scenario, 'latest');
  return join(
    run,
    readdirSync(run).find((f) => !f.includes('.'))!,
  );
};

test.serial('[vm] powercut replay re-runs a stored trial and reproduces its verdict', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-replay-'));
  const scenario = join(dir, 'cow-replay.yaml');
  writeFileSync(
    scenario,
    "engine: { mode: cow }\nworkload: { ops: 20, pages: 8, txnSize: 3 }\nfault: { kind: drop_writes, arm: { atMark: 'cow:before-meta', occurrence: 2 } }\nexpect: { lost-ack: none, non-atomic: none }\n",
  );
  const run = await powercut('run', scenario, '--store', join(dir, 'store'), '--seed', '5');
  t.is(run.exitCode, 0, String(run.all));
  const replay = await powercut(
    'replay',
    trialDir(join(dir, 'store'), 'cow-replay'),
    '--store',
    join(dir, 'store'),
  );
  t.log(String(replay.all).trim().split('\n').slice(-2).join(' | '));
  t.is(replay.exitCode, 0);
  t.regex(String(replay.all), /replay reproduced the stored verdict/);
});

test.serial(
  '[vm] powercut shrink turns a failing trial into a smaller failing workload on the real target',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'powercut-shrink-'));
    const scenario = join(dir, 'plain-wrong.yaml');
    // Wrongly expects plain to lose nothing: every trial fails, so there is something to shrink.
    writeFileSync(
      scenario,
      'engine: { mode: plain }\nworkload: { ops: 10, pages: 4 }\nfault: { kind: drop_writes, arm: { afterOp: 5 } }\nexpect: { lost-ack: none }\n',
    );
    const run = await powercut('run', scenario, '--store', join(dir, 'store'), '--seed', '3');
    t.is(run.exitCode, 1, 'the trial fails as set up');
    const shrink = await powercut(
      'shrink',
      trialDir(join(dir, 'store'), 'plain-wrong'),
      '--max-trials',
      '3',
    );
    t.log(String(shrink.all).trim().split('\n').slice(-4).join(' | '));
    t.is(shrink.exitCode, 0);
    const found = /minimal failing workload \((\d+) ops\)/.exec(String(shrink.all));
    t.truthy(found);
    t.true(Number(found![1]) < 10, 'smaller than the original 10 writes');
  },
);
