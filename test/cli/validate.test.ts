import test from 'ava';
import { execa } from 'execa';

const powercut = (...args: string[]) =>
  execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], { reject: false });

test('validate prints file:line:col: field: message for every problem of every broken scenario and exits 2 (bad input)', async (t) => {
  const r = await powercut('validate', 'test/fixtures/scenarios/broken');
  t.is(r.exitCode, 2);
  const lines = r.stderr.trim().split('\n');
  for (const line of lines)
    t.regex(line, /^test\/fixtures\/scenarios\/broken\/[a-z-]+\.yaml:\d+:\d+: /, line);
  // Every fixture is reported, two-mistakes.yaml twice.
  const files = lines.map((l) => l.split(':')[0]);
  t.is(new Set(files).size, 13);
  t.is(files.filter((f) => f!.endsWith('two-mistakes.yaml')).length, 2);
  t.true(
    lines.includes(
      'test/fixtures/scenarios/broken/unknown-key.yaml:3:3: engine.colour: unknown key "colour" (allowed here: mode, direct, pageSize, writers, batchWindowUs, batchMax, bug, protection)',
    ),
  );
  t.is(r.stdout, '', 'no file of them is ok');
});

test('validate accepts the shipped scenarios; list shows their trials', async (t) => {
  const v = await powercut('validate', 'scenarios');
  t.is(v.exitCode, 0, v.stderr);
  t.regex(v.stdout, /^ok scenarios\/fsync-vs-plain\.yaml \(4 trials\)$/m);
  const l = await powercut('list', 'scenarios/fsync-vs-plain.yaml');
  t.is(l.stdout.trim().split('\n').length, 4);
  t.regex(
    l.stdout,
    /fsync-vs-plain\/xfs-plain-drop_writes-1 {2}xfs plain drop_writes \{"afterOp":60\}/,
  );
});

test('run on a broken scenario runs nothing and exits 2 with one line', async (t) => {
  const r = await powercut('run', 'test/fixtures/scenarios/broken/unknown-fault.yaml');
  t.is(r.exitCode, 2);
  t.is(
    r.stderr.trim(),
    'test/fixtures/scenarios/broken/unknown-fault.yaml:7:9: fault.kind: unknown value "drop_everything": must be "drop_writes", "error_writes", "corrupt_bio_byte", "error_reads" or "log-writes"',
  );
  t.is(r.stdout, '');
});

test('a missing scenario path is one clear line', async (t) => {
  const r = await powercut('run', 'scenarios/nope.yaml');
  t.is(r.exitCode, 2);
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /scenarios\/nope\.yaml: no such file or directory/);
});
