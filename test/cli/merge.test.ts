import test from 'ava';
import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeShards } from '../../src/cli/merge-command.ts';
import { dealTrials, trialKey } from '../../src/cli/shard.ts';
import { writeShardManifest } from '../../src/cli/shard-manifest.ts';
import type { History } from '../../src/model/history.ts';
import type { TrialResult } from '../../src/model/trial-result.ts';
import { check } from '../../src/oracles/check.ts';
import { meetsExpectation } from '../../src/oracles/expectation.ts';
import { RunStore } from '../../src/report/run-store.ts';
import type { TrialPlan } from '../../src/model/trial-plan.ts';
import { plans } from '../harness/trial/vm-helpers.ts';

const yaml =
  'engine: { mode: fsync }\nworkload: { ops: 2, pages: 2 }\nfault: { kind: drop_writes, arm: { afterOp: 1 } }\nexpect: { lost-ack: none }\nmatrix: { fs: [ext4, xfs], mode: [fsync, plain] }\ntrials: 2\n';

/** A stored trial as the runner writes it (a small real history; no VM): lost or not. */
function result(plan: TrialPlan, lost: boolean): TrialResult {
  const history: History = {
    ops: [
      { op: 'write', id: 1, page: 0, value: 'w1' },
      { op: 'write', id: 2, page: 1, value: 'w2' },
    ],
    events: [
      { id: 1, type: 'invoke', t: 1 },
      { id: 1, type: 'ok', t: 2 },
      { type: 'nemesis', t: 2, action: 'arm', fault: 'drop_writes' },
      { id: 2, type: 'invoke', t: 3 },
      { id: 2, type: 'ok', t: 4 },
      { type: 'nemesis', t: 4, action: 'crash' },
    ],
  };
  const dump = [
    { page: 0, value: lost ? null : 'w1' },
    { page: 1, value: null },
  ];
  const verdict = check(history, dump, { transactional: false });
  return {
    plan,
    ops: [...history.ops],
    history,
    dump,
    verdict,
    expectation: meetsExpectation(verdict, plan.expect),
    engineStderr: '',
    phaseMs: { device: 1000, workload: 500, fault: 100, recover: 800, check: 1 },
    log: ['a line'],
  };
}

/** Writes the stores of an n-shard run of `yaml` (seed 5) the way `powercut run --shard` does. */
async function shardStores(n: number, seed = 5): Promise<{ dirs: string[]; all: TrialPlan[] }> {
  const root = mkdtempSync(join(tmpdir(), 'powercut-merge-'));
  const all = plans(yaml, seed).map((p) => ({ ...p, scenario: 'demo' }));
  const dealt = dealTrials(all.map(trialKey), n);
  const dirs: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(root, `shard-${i + 1}`);
    const store = new RunStore(dir, 'demo', 'nightly-7');
    await store.init(yaml);
    const mine = all.filter((p) => dealt[i]!.includes(trialKey(p)));
    // Trials on plain lose their acks: findings that merge must keep, with a reproduce command.
    const results = mine.map((p) => result(p, p.id.includes('plain')));
    for (const r of results) await store.writeTrial(r);
    await store.writeReports('demo', results, []);
    await writeShardManifest(dir, {
      runId: 'nightly-7',
      seed,
      shard: { index: i + 1, total: n },
      plans: all,
      assigned: dealt[i]!,
      target: { kind: 'qemu', kernel: '6.1.0-test' },
    });
    dirs.push(dir);
  }
  return { dirs, all };
}

test('merge: every planned trial once → one store, rebuilt reports, a reproduce command per failure', async (t) => {
  const { dirs, all } = await shardStores(3);
  const out = mkdtempSync(join(tmpdir(), 'powercut-merged-'));
  const lines: string[] = [];
  const merged = await mergeShards(dirs, out, (l) => lines.push(l));
  t.is(merged.trials, all.length);
  const plain = all.filter((p) => p.id.includes('plain')).length;
  t.true(plain > 0);
  t.is(merged.unexpected, plain);
  const summary = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
    seed: number;
    shards: number;
    trials: { key: string; asExpected: boolean; reproduce?: string }[];
  };
  t.is(summary.shards, 3);
  t.deepEqual(summary.trials.map((r) => r.key).sort(), all.map(trialKey).sort());
  for (const r of summary.trials) {
    t.is(r.asExpected, !r.key.includes('plain'));
    if (!r.asExpected) {
      t.regex(r.reproduce!, /^powercut replay .*\/demo\/nightly-7\//);
      t.true(existsSync(join(r.reproduce!.slice('powercut replay '.length), 'trial.json')));
    } else t.is(r.reproduce, undefined);
  }
  const run = join(out, 'demo', 'nightly-7');
  const scenarioResults = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')) as {
    trials: unknown[];
  };
  t.is(scenarioResults.trials.length, all.length);
  t.regex(
    readFileSync(join(run, 'junit.xml'), 'utf8'),
    new RegExp(`tests="${all.length}" failures="${plain}"`),
  );
  t.true(existsSync(join(run, 'report.html')));
  t.regex(lines.join('\n'), new RegExp(`merged ${all.length} trials of 3 shards`));
});

test('merge refuses a missing shard, naming it and its trials', async (t) => {
  const { dirs } = await shardStores(3);
  const out = mkdtempSync(join(tmpdir(), 'powercut-merged-'));
  await t.throwsAsync(
    mergeShards([dirs[0]!, dirs[2]!], out, () => {}),
    {
      name: 'InputError',
      message: /missing shard\(s\) 2\/3; \d+ planned trial\(s\) not found: demo\//,
    },
  );
  t.false(existsSync(join(out, 'results.json')), 'nothing merged');
});

test('merge refuses a trial that two shards ran, and a shard given twice', async (t) => {
  const { dirs } = await shardStores(2);
  const [a, b] = dirs as [string, string];
  const stolen = readFileSync(join(b, 'shard.json'), 'utf8');
  const key = (JSON.parse(stolen) as { assigned: string[] }).assigned[0]!;
  const id = key.slice('demo/'.length);
  cpSync(join(b, 'demo', 'nightly-7', id), join(a, 'demo', 'nightly-7', id), { recursive: true });
  const out = mkdtempSync(join(tmpdir(), 'powercut-merged-'));
  await t.throwsAsync(
    mergeShards([a, b], out, () => {}),
    {
      message: new RegExp(
        `trials merged twice: ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(in ${a} \\(shard 1\\) and ${b} \\(shard 2\\)\\)`,
      ),
    },
  );
  await t.throwsAsync(
    mergeShards([a, a], out, () => {}),
    { message: /shard 1\/2 given twice/ },
  );
});

test('merge refuses a lost trial and shards of different plans', async (t) => {
  const { dirs } = await shardStores(2);
  const manifest = JSON.parse(readFileSync(join(dirs[1]!, 'shard.json'), 'utf8')) as {
    assigned: string[];
  };
  const lost = manifest.assigned.at(-1)!;
  rmSync(join(dirs[1]!, 'demo', 'nightly-7', lost.slice('demo/'.length)), { recursive: true });
  const out = mkdtempSync(join(tmpdir(), 'powercut-merged-'));
  await t.throwsAsync(
    mergeShards(dirs, out, () => {}),
    {
      message: new RegExp(`^1 planned trial\\(s\\) not found: ${lost}$`),
    },
  );
  const other = await shardStores(2, 6);
  await t.throwsAsync(
    mergeShards([dirs[0]!, other.dirs[1]!], out, () => {}),
    {
      message: /its plan \(digest [0-9a-f]{12}\) is not .*: not shards of one run \(seed 6 vs 5/,
    },
  );
});

test('powercut merge: exit 1 when a merged trial is a finding, 2 when the shards do not add up', async (t) => {
  const { dirs } = await shardStores(2);
  const cli = (...args: string[]) =>
    execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], { reject: false });
  const out = mkdtempSync(join(tmpdir(), 'powercut-merged-'));
  const ok = await cli('merge', ...dirs, '--out', out);
  t.is(ok.exitCode, 1, ok.stderr);
  t.regex(ok.stdout, /not as expected/);
  const missing = await cli(
    'merge',
    dirs[0]!,
    '--out',
    mkdtempSync(join(tmpdir(), 'powercut-merged-')),
  );
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /^missing shard\(s\) 2\/2/);
});
