import test from 'ava';
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { dealTrials, parseShard } from '../../src/cli/shard.ts';

// The shipped examples of running shards on a scheduler: they parse, and the shard count they
// give the scheduler is the one they give powercut.

const dir = 'examples/distributed';

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string };
type Workflow = {
  jobs: Record<
    string,
    {
      needs?: string;
      if?: string;
      strategy?: { 'fail-fast'?: boolean; matrix: { shard: number[] } };
      steps: Step[];
    }
  >;
};

test('GitHub Actions: the matrix is shards 1..n, every job runs shard i/n, and merge collects them all', (t) => {
  const wf = parse(readFileSync(`${dir}/github-actions/powercut-shards.yml`, 'utf8')) as Workflow;
  const { shard, merge } = wf.jobs as Required<Workflow['jobs']>;
  const shards = shard!.strategy!.matrix.shard;
  const n = shards.length;
  t.true(n > 1);
  t.deepEqual(
    shards,
    Array.from({ length: n }, (_, i) => i + 1),
  );
  t.false(shard!.strategy!['fail-fast'], 'a finding in one shard must not cancel the others');
  const run = shard!.steps.map((s) => s.run ?? '').join('\n');
  t.regex(run, new RegExp(`--shard \\$\\{\\{ matrix\\.shard \\}\\}/${n}\\b`));
  // The same seed and run id on every shard: nothing in them depends on the matrix.
  const seed = /--seed (\S+)/.exec(run)![1]!;
  const runId = /--run-id (\S+)/.exec(run)![1]!;
  t.notRegex(seed + runId, /matrix/);
  // Each matrix value, as powercut parses it, is a distinct shard of n.
  t.deepEqual(
    shards.map((i) => parseShard(`${i}/${n}`)),
    shards.map((i) => ({ index: i, total: n })),
  );
  const upload = shard!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
  t.is(upload.if, 'always()');
  t.is(upload.with!.name, 'powercut-shard-${{ matrix.shard }}');
  t.is(merge!.needs, 'shard');
  t.is(merge!.if, 'always()');
  const download = merge!.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
  t.is(download.with!.pattern, 'powercut-shard-*');
  const mergeRun = merge!.steps.map((s) => s.run ?? '').join('\n');
  t.regex(
    mergeRun,
    new RegExp(`powercut merge ${download.with!.path as string}/powercut-shard-\\* --out \\S+`),
  );
});

type Container = { name: string; args: string[]; env?: { name: string; value: string }[] };
type Job = {
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    podFailurePolicy?: { rules: { action: string; onExitCodes: { values: number[] } }[] };
    template: { spec: { containers: Container[] } };
  };
};

test('Kubernetes: an Indexed Job whose completions equal POWERCUT_SHARD_TOTAL; its indexes are shards 1..n', (t) => {
  const docs = parseAllDocuments(readFileSync(`${dir}/kubernetes/shards.yaml`, 'utf8')).map(
    (d) => d.toJS() as Job,
  );
  const job = docs.find((d) => d.kind === 'Job')!;
  t.is(job.spec.completionMode, 'Indexed');
  const n = job.spec.completions!;
  t.true(n > 1);
  const container = job.spec.template.spec.containers[0]!;
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
  t.is(Number(env.POWERCUT_SHARD_TOTAL), n);
  t.regex(container.args.join(' '), /powercut run .*--shard env/);
  t.regex(container.args.join(' '), /--seed "\$POWERCUT_SEED" --run-id "\$POWERCUT_RUN_ID"/);
  // A finding or bad input is final; a harness error (3) may retry.
  t.deepEqual(job.spec.podFailurePolicy!.rules[0]!.onExitCodes.values, [1, 2]);
  // The pods' environment, as powercut reads it: indexes 0..n-1 are shards 1..n, each once.
  const shards = Array.from({ length: n }, (_, i) =>
    parseShard('env', {
      JOB_COMPLETION_INDEX: String(i),
      POWERCUT_SHARD_TOTAL: env.POWERCUT_SHARD_TOTAL,
    }),
  );
  t.deepEqual(
    shards,
    Array.from({ length: n }, (_, i) => ({ index: i + 1, total: n })),
  );
  const keys = Array.from({ length: 3 * n + 1 }, (_, i) => `s/t-${i}`);
  t.is(new Set(shards.flatMap((s) => dealTrials(keys, s.total)[s.index - 1]!)).size, keys.length);

  const merge = parse(readFileSync(`${dir}/kubernetes/merge.yaml`, 'utf8')) as Job;
  t.is(merge.kind, 'Job');
  const mergeArgs = merge.spec.template.spec.containers[0]!.args.join(' ');
  // Merge reads the folders the shards wrote.
  const storeFlag = /--store (\S+)\$JOB_COMPLETION_INDEX/.exec(container.args.join(' '))![1]!;
  t.regex(
    mergeArgs,
    new RegExp(`powercut merge ${storeFlag.replace(/[/]/g, '\\/')}\\* --out \\S+`),
  );
  t.regex(readFileSync(`${dir}/kubernetes/run.sh`, 'utf8'), /value: '20261126'/);
  t.true(
    readFileSync(`${dir}/kubernetes/shards.yaml`, 'utf8').includes("value: '20261126'"),
    'run.sh substitutes the seed it finds',
  );
});
