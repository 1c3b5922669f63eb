import test from 'ava';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';

// powercut as a user's project gets it: `npm pack`, the tarball installed into a project with
// no TypeScript tooling, the API used from plain ESM, its types checked from a .ts consumer,
// the CLI run through npx.
const repo = resolve('.');

test('the packed package installs, imports from plain .mjs, typechecks from .ts, and runs its CLI', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-consumer-'));
  const packed = await execa('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: repo });
  const tarball = join(dir, packed.stdout.trim().split('\n').at(-1)!);
  const project = join(dir, 'project');
  await execa('mkdir', ['-p', project]);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await execa('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: project,
  });
  const installed = readdirSync(join(project, 'node_modules'));
  t.false(installed.includes('tsx'), 'no TypeScript loader at run time');
  t.false(installed.includes('typescript'));

  // The API from plain ESM: a verdict computed by the checkers.
  writeFileSync(
    join(project, 'use.mjs'),
    `import { check, makeValue } from 'powercut';
const ops = [{ op: 'write', id: 1, page: 0, value: makeValue(1) }];
const events = [{ id: 1, type: 'invoke', t: 0 }, { id: 1, type: 'ok', t: 1 }, { type: 'nemesis', t: 1, action: 'crash' }];
const verdict = check({ ops, events }, [{ page: 0, value: null }], { transactional: false });
console.log(JSON.stringify(verdict.anomalies.map((a) => a.kind)));
`,
  );
  const used = await execa('node', ['use.mjs'], { cwd: project });
  t.is(used.stdout.trim(), '["lost-ack"]');

  // Its types, from a .ts consumer, with the project's own tsc (strict, skipLibCheck off).
  writeFileSync(
    join(project, 'use.ts'),
    `import { check, type Verdict, type TrialSpec, type WorkloadOp } from 'powercut';
const ops: WorkloadOp[] = [{ op: 'write', id: 1, page: 0, value: 'w1' }];
const spec: TrialSpec = { engine: { mode: 'fsync' }, ops, fault: { kind: 'drop_writes', arm: { afterOp: 1 } } };
const v: Verdict = check({ ops, events: [] }, [], { transactional: false });
export const summary: string = \`\${spec.fault.kind} \${v.valid}\`;
`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(repo, 'node_modules/@types')],
      },
      files: ['use.ts'],
    }),
  );
  const tsc = await execa('node', [join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.'], {
    cwd: project,
    reject: false,
  });
  t.is(tsc.exitCode, 0, tsc.stdout);

  // The CLI, compiled, through npx.
  writeFileSync(
    join(project, 'mine.yaml'),
    'engine: { mode: fsync }\nworkload: { ops: 10 }\nfault: { kind: drop_writes, arm: { afterOp: 5 } }\n',
  );
  const validate = await execa('npx', ['powercut', 'validate', 'mine.yaml'], { cwd: project });
  t.is(validate.stdout.trim(), 'ok mine.yaml (1 trials)');
  const bad = await execa('npx', ['powercut', 'validate', 'nope.yaml'], {
    cwd: project,
    reject: false,
  });
  t.is(bad.exitCode, 2);
});

test('npm pack ships what a user needs and no tests, sources or benchmarks', async (t) => {
  const r = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo });
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map(
    (f) => f.path,
  );
  for (const needed of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/bin/powercut.js',
    'dist/guest/powercut-engine.cjs',
    'dist/guest/powercut-stop',
    'dist/guest/powercut-dm',
    'bin/powercut.mjs',
    'native/binding.gyp',
    'native/stop/powercut-stop.c',
    'native/dm/powercut-dm.c',
    'vm/build-image.sh',
    'schema/scenario.schema.json',
    'docs/engine-protocol.md',
  ])
    t.true(files.includes(needed), needed);
  t.deepEqual(
    files.filter((f) => /^(test|src|bench|scripts|store|\.ci)\//.test(f) || f.includes('/build/')),
    [],
  );
});
