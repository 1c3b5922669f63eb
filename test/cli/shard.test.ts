import test from 'ava';
import { testProp, fc } from '@fast-check/ava';
import { execa } from 'execa';
import { dealTrials, parseShard, planDigest, weightsFromResults } from '../../src/cli/shard.ts';
import { plans } from '../harness/trial/vm-helpers.ts';

const powercut = (...args: string[]) =>
  execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], { reject: false });

const keys = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}\/[a-z0-9-]{1,6}$/), {
  maxLength: 60,
});

testProp(
  'dealTrials: the shards partition the trials (each exactly once), whatever the weights',
  [keys, fc.integer({ min: 1, max: 9 }), fc.option(fc.integer({ min: 0, max: 1000 }))],
  (t, ks, total, weightSeed) => {
    const weights =
      weightSeed === null
        ? undefined
        : new Map(
            ks.filter((_, i) => i % 3 !== 0).map((k, i) => [k, ((i * 37 + weightSeed) % 50) + 1]),
          );
    const shards = dealTrials(ks, total, weights);
    t.is(shards.length, total);
    const dealt = shards.flat();
    t.is(dealt.length, ks.length);
    t.deepEqual([...dealt].sort(), [...ks].sort());
    // Deterministic: the same input deals the same way (every machine computes its own shard).
    t.deepEqual(dealTrials([...ks].reverse(), total, weights), shards);
  },
);

testProp(
  'dealTrials without weights: shard sizes differ by at most one',
  [keys, fc.integer({ min: 1, max: 9 })],
  (t, ks, total) => {
    const sizes = dealTrials(ks, total).map((s) => s.length);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= 1, JSON.stringify(sizes));
  },
);

testProp(
  'dealTrials with weights: no shard carries more than the lightest one plus the heaviest trial',
  [
    fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,4}$/), fc.integer({ min: 1, max: 500 })), {
      selector: ([k]) => k,
      minLength: 1,
      maxLength: 40,
    }),
    fc.integer({ min: 1, max: 6 }),
  ],
  (t, weighted, total) => {
    const weights = new Map(weighted);
    const loads = dealTrials([...weights.keys()], total, weights).map((s) =>
      s.reduce((sum, k) => sum + weights.get(k)!, 0),
    );
    const heaviest = Math.max(...weights.values());
    t.true(Math.max(...loads) - Math.min(...loads) <= heaviest, JSON.stringify(loads));
  },
);

test('weights balance log-writes trials that last far longer than the rest', (t) => {
  const ks = ['s/a', 's/b', 's/c', 's/d', 's/long1', 's/long2'];
  const w = new Map([
    ['s/long1', 300],
    ['s/long2', 300],
    ['s/a', 10],
    ['s/b', 10],
    ['s/c', 10],
    ['s/d', 10],
  ]);
  const byName = dealTrials(ks, 2);
  t.deepEqual(byName, [
    ['s/a', 's/c', 's/long1'],
    ['s/b', 's/d', 's/long2'],
  ]);
  const balanced = dealTrials(ks, 2, w);
  t.deepEqual(
    balanced.map((s) => s.filter((k) => k.startsWith('s/long')).length),
    [1, 1],
  );
  t.deepEqual(
    balanced.map((s) => s.length),
    [3, 3],
  );
});

test('parseShard: i/n is 1-based; env reads the CI system that is set; bad values are bad input', (t) => {
  t.deepEqual(parseShard('2/5'), { index: 2, total: 5 });
  t.throws(() => parseShard('0/5'), { name: 'InputError', message: /shard 0 of 5/ });
  t.throws(() => parseShard('6/5'), { name: 'InputError' });
  t.throws(() => parseShard('1-5'), { name: 'InputError', message: /"1-5" is not i\/n/ });
  t.deepEqual(parseShard('env', { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '4' }), {
    index: 3,
    total: 4,
  });
  t.deepEqual(parseShard('env', { CIRCLE_NODE_INDEX: '0', CIRCLE_NODE_TOTAL: '2' }), {
    index: 1,
    total: 2,
  });
  t.deepEqual(parseShard('env', { JOB_COMPLETION_INDEX: '4', POWERCUT_SHARD_TOTAL: '5' }), {
    index: 5,
    total: 5,
  });
  t.deepEqual(
    parseShard('env', { BUILDKITE_PARALLEL_JOB: '1', BUILDKITE_PARALLEL_JOB_COUNT: '3' }),
    { index: 2, total: 3 },
  );
  t.throws(() => parseShard('env', {}), {
    name: 'InputError',
    message: /none of POWERCUT_SHARD_INDEX/,
  });
  t.throws(() => parseShard('env', { JOB_COMPLETION_INDEX: '5', POWERCUT_SHARD_TOTAL: '5' }), {
    message: /JOB_COMPLETION_INDEX\/POWERCUT_SHARD_TOTAL \(Kubernetes\): shard 6 of 5/,
  });
});

test('planDigest: the same plan on any machine, a different one for another seed or scenario', (t) => {
  const yaml =
    'engine: { mode: fsync }\nworkload: { ops: 20 }\nfault: { kind: drop_writes, arm: { afterOp: 5 } }\nmatrix: { fs: [ext4, xfs] }\n';
  const a = plans(yaml, 7);
  const elsewhere = a.map((p) => ({ ...p, file: '/home/ci/other/inline.yaml' }));
  t.is(planDigest(elsewhere), planDigest(a));
  t.is(planDigest([...a].reverse()), planDigest(a));
  t.not(planDigest(plans(yaml, 8)), planDigest(a));
  t.not(planDigest(plans(yaml.replace('20', '21'), 7)), planDigest(a));
});

test('weightsFromResults reads per-scenario and merged results.json', (t) => {
  t.deepEqual(
    [...weightsFromResults({ scenario: 's', trials: [{ id: 'a', seconds: 3 }, { id: 'b' }] })],
    [['s/a', 3]],
  );
  t.deepEqual([...weightsFromResults({ trials: [{ key: 'x/y', seconds: 9.5 }] })], [['x/y', 9.5]]);
});

// The CLI: `powercut list --shard i/n` for i = 1..n partitions `powercut list`, for random n.
const listed = (stdout: string): string[] =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('  ')[0]!);

test('powercut list --shard i/n for i = 1..n partitions the full list (random n)', async (t) => {
  const all = await powercut('list', 'scenarios');
  t.is(all.exitCode, 0, all.stderr);
  const full = listed(all.stdout);
  t.true(full.length > 20);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 7 }), async (n) => {
      const parts = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          powercut('list', 'scenarios', '--shard', `${i + 1}/${n}`),
        ),
      );
      for (const p of parts) if (p.exitCode !== 0) throw new Error(p.stderr);
      const dealt = parts.flatMap((p) => listed(p.stdout));
      if (dealt.length !== full.length || new Set(dealt).size !== full.length)
        throw new Error(
          `n=${n}: ${dealt.length} dealt, ${new Set(dealt).size} distinct, of ${full.length}`,
        );
      if ([...dealt].sort().join() !== [...full].sort().join())
        throw new Error(`n=${n}: not the same trials`);
    }),
    { numRuns: 3, examples: [[1], [3]] },
  );
  t.pass();
});

test('a sharded run needs a seed; a bad shard is bad input (exit 2), before any guest boots', async (t) => {
  const noSeed = await powercut('run', 'scenarios/fsync-vs-plain.yaml', '--shard', '1/2');
  t.is(noSeed.exitCode, 2);
  t.regex(noSeed.stderr, /--shard needs --seed/);
  const bad = await powercut(
    'run',
    'scenarios/fsync-vs-plain.yaml',
    '--shard',
    '3/2',
    '--seed',
    '1',
  );
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /--shard: shard 3 of 2 is not a shard/);
  const badId = await powercut('run', 'scenarios/fsync-vs-plain.yaml', '--run-id', '../x');
  t.is(badId.exitCode, 2);
});
