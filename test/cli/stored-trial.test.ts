import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStoredPlan, readStoredWorkload } from '../../src/cli/stored-trial.ts';
import { parseScenario } from '../../src/scenario/load.ts';
import { expandScenario } from '../../src/scenario/expand.ts';
import { InputError } from '../../src/scenario/find.ts';

const stored = (plan: unknown, workload?: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stored-'));
  writeFileSync(join(dir, 'trial.json'), JSON.stringify(plan, null, 2));
  if (workload !== undefined) writeFileSync(join(dir, 'workload.jsonl'), workload);
  return dir;
};

const plansOf = (yaml: string) =>
  expandScenario(parseScenario('scenarios/s.yaml', yaml), { baseSeed: 9 });

test('plans as the run store writes them read back unchanged (built-in and user engines)', async (t) => {
  const builtin = plansOf(
    'engine: { mode: cow }\nworkload: { ops: 8 }\nfault: { kind: corrupt_bio_byte, arm: { at: fdatasync, occurrence: 2, when: before } }\n',
  )[0]!;
  const external = plansOf(
    'engine: { command: /opt/x/db, store: directory, env: { A: b } }\nworkload: { ops: 8 }\nfault: { kind: error_writes, arm: { afterOp: 2 }, disarm: { at: failed-sync } }\n',
  )[0]!;
  for (const plan of [builtin, external]) t.deepEqual(await readStoredPlan(stored(plan)), plan);
});

test('a tampered trial.json is refused before any of its values reach a shell, naming the field', async (t) => {
  const plan = plansOf(
    'engine: { mode: fsync }\nworkload: { ops: 8 }\nfault: { kind: drop_writes }\n',
  )[0]!;
  const tampered = { ...plan, filesystem: { type: 'ext4', mountOptions: 'noatime; rm -rf /' } };
  const error = await t.throwsAsync(readStoredPlan(stored(tampered)), { instanceOf: InputError });
  t.regex(error.message, /trial\.json: not a valid trial plan: filesystem\.mountOptions: /);
  await t.throwsAsync(readStoredPlan(stored({ id: 'x' })), { instanceOf: InputError });
});

test('replay feeds the stored workload, not one regenerated from the seed; a bad line is named', async (t) => {
  const ops = [
    { op: 'write', id: 1, page: 0, value: 'w1' },
    { op: 'commit', id: 2 },
  ];
  t.deepEqual(
    await readStoredWorkload(stored({}, ops.map((o) => JSON.stringify(o)).join('\n'))),
    ops,
  );
  t.is(await readStoredWorkload(stored({})), undefined);
  await t.throwsAsync(readStoredWorkload(stored({}, '{"op":"write","id":"x"}\n')), {
    message: /workload\.jsonl:1: not a workload op/,
  });
});
