import test from 'ava';
import { resolve } from 'node:path';
import { parseScenario } from '../../src/scenario/load.ts';
import { defaultEngineName, expandScenario } from '../../src/scenario/expand.ts';
import { engineCommand } from '../../src/harness/trial/engine-command.ts';

const userEngine = `
engine:
  build: make -s -C ../examples/sqlite
  upload: ../examples/sqlite/build/sqlite-engine
  store: directory
  env: { SQLITE_SYNCHRONOUS: FULL }
  args: [--verbose]
workload: { ops: 10, pages: 4 }
fault: { kind: drop_writes, arm: { afterOp: 5 } }
expect: { phantom: none }
matrix:
  fs: [ext4, xfs]
  engine:
    - { name: wal, env: { SQLITE_JOURNAL_MODE: WAL }, expect: { lost-ack: none } }
    - { name: off, env: { SQLITE_SYNCHRONOUS: 'OFF' }, expect: { lost-ack: some } }
`;

test('engine variants: named in trial ids, env merged over the engine, expectations their own', (t) => {
  const plans = expandScenario(parseScenario('scenarios/db.yaml', userEngine), { baseSeed: 1 });
  t.deepEqual(
    plans.map((p) => p.id),
    [
      'ext4-wal-drop_writes-1',
      'ext4-off-drop_writes-1',
      'xfs-wal-drop_writes-1',
      'xfs-off-drop_writes-1',
    ],
  );
  const off = plans[1]!;
  t.like(off.engine, {
    kind: 'external',
    name: 'off',
    store: 'directory',
    env: { SQLITE_SYNCHRONOUS: 'OFF' },
    baseDir: resolve('scenarios'),
  });
  t.deepEqual(off.expect, { phantom: 'none', 'lost-ack': 'some' });
  t.deepEqual(plans[0]!.engine.kind === 'external' && plans[0]!.engine.env, {
    SQLITE_SYNCHRONOUS: 'FULL',
    SQLITE_JOURNAL_MODE: 'WAL',
  });
});

test("a user engine's command line: env before the command (sh -c), --pages for every verb, args after", (t) => {
  const plan = expandScenario(parseScenario('scenarios/db.yaml', userEngine), { baseSeed: 1 })[1]!;
  t.is(
    engineCommand(plan.engine, 'dump', '/mnt/x/store', 4),
    "SQLITE_SYNCHRONOUS='OFF' /opt/powercut/user/sqlite-engine 'dump' '--store' '/mnt/x/store' '--page-size' '4096' '--pages' '4' '--verbose'",
  );
});

test('an engine is named after its command by default; names that collide are refused', (t) => {
  t.is(defaultEngineName('FOO=1 /opt/powercut/user/my-db --flag'), 'my-db');
  t.is(defaultEngineName('node /opt/x/engine.mjs'), 'node');
  const twice = userEngine.replace('name: off', 'name: wal');
  t.throws(() => parseScenario('scenarios/db.yaml', twice), { message: /named twice/ });
  const builtin =
    'engine: { mode: fsync }\nworkload: { ops: 4 }\nfault: { kind: drop_writes }\nmatrix: { engine: [{ name: x }] }\n';
  t.throws(() => parseScenario('s.yaml', builtin), {
    message: /built-in engine varies with matrix.mode/,
  });
});
