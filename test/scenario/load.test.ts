import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { loadScenarioFile, parseScenario } from '../../src/scenario/load.ts';
import { expandScenario } from '../../src/scenario/expand.ts';
import { ScenarioError } from '../../src/scenario/scenario-error.ts';
import { findScenarioFiles } from '../../src/scenario/find.ts';

/** The file is refused with a ScenarioError whose message matches. */
function rejects(t: ExecutionContext, file: string, yaml: string, message: RegExp): void {
  const error = t.throws(() => parseScenario(file, yaml), { instanceOf: ScenarioError });
  t.regex(error.message, message);
}

const broken = 'test/fixtures/scenarios/broken';

// One fixture per class of mistake: where it is reported, and that the message names the
// offending key or value.
const cases: [string, number, number, string, RegExp][] = [
  ['unknown-key.yaml', 3, 3, 'engine.colour', /unknown key "colour" \(allowed here: mode, /],
  ['wrong-type.yaml', 4, 8, 'workload.ops', /expected a number, got a string: "ten"/],
  [
    'unknown-fault.yaml',
    7,
    9,
    'fault.kind',
    /unknown value "drop_everything": must be "drop_writes", /,
  ],
  ['unknown-value.yaml', 6, 9, 'fault.kind', /unknown value "melt_disk"/],
  ['bad-value.yaml', 7, 19, 'fault.arm.afterOp', /-3 is too small: must be ≥ 0/],
  [
    'arm-past-end.yaml',
    7,
    19,
    'fault.arm.afterOp',
    /500 is past the end of the workload \(20 ops\).*at most 20/,
  ],
  [
    'ack-past-end.yaml',
    7,
    31,
    'fault.arm.occurrence',
    /30 acknowledgements cannot happen: the workload has 20 writes/,
  ],
  ['schedule-and-arm.yaml', 8, 13, 'fault.schedule', /schedule and arm .* use one/],
  ['disarm-before-arm.yaml', 8, 22, 'fault.disarm.afterOp', /5 is not after arm.afterOp 10/],
  ['matrix-mode-user-engine.yaml', 8, 9, 'matrix.mode', /a user engine varies with matrix.engine/],
  [
    'missing-upload.yaml',
    2,
    11,
    'engine.upload',
    /"build\/my-engine-that-is-not-there" does not exist .* add engine.build/,
  ],
];

for (const [file, line, col, field, message] of cases) {
  test(`${file} is rejected at ${line}:${col} naming ${field || 'the syntax error'}`, async (t) => {
    const error = await t.throwsAsync(loadScenarioFile(join(broken, file)), {
      instanceOf: ScenarioError,
    });
    t.is(error.line, line);
    t.is(error.col, col);
    t.is(error.field, field);
    t.regex(error.message, message);
    t.true(error.message.startsWith(`${join(broken, file)}:${line}:${col}: `));
    t.false(error.message.includes('\n'), 'one line');
  });
}

test('every mistake of a file is reported, in file order, each with the near miss it was meant to be', async (t) => {
  const file = join(broken, 'two-mistakes.yaml');
  const error = await t.throwsAsync(loadScenarioFile(file), { instanceOf: ScenarioError });
  t.deepEqual(error.message.split('\n'), [
    `${file}:3:9: engine.mode: unknown value "fsnyc" (did you mean "fsync"?): must be "plain", "fsync", "group-commit", "cow" or "slotted"`,
    `${file}:7:3: fault.kindd: unknown key "kindd" (did you mean "kind"?)`,
  ]);
  t.is(error.problems.length, 2);
});

test('YAML syntax errors: every one, each located', async (t) => {
  const error = await t.throwsAsync(loadScenarioFile(join(broken, 'bad-yaml.yaml')), {
    instanceOf: ScenarioError,
  });
  t.true(error.problems.length >= 1);
  t.like(error.problems[0], { line: 3, col: 1, field: '' });
  t.true(error.problems.every((p) => p.message.startsWith('invalid YAML: ')));
});

test('every shipped scenario validates', async (t) => {
  const files = await findScenarioFiles(['scenarios']);
  t.true(files.length >= 4);
  for (const file of files) await t.notThrowsAsync(loadScenarioFile(file), file);
});

test('defaults fill in and the name comes from the file', (t) => {
  const { name, scenario } = parseScenario(
    'scenarios/x-y.yaml',
    'engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: drop_writes }\n',
  );
  t.is(name, 'x-y');
  t.is(scenario.filesystem.type, 'ext4');
  t.is(scenario.device.sizeMb, 512);
  t.is(scenario.trials, 1);
  t.deepEqual(scenario.expect, {});
});

test('an external engine needs a command or an upload', (t) => {
  const error = t.throws(
    () =>
      parseScenario(
        'e.yaml',
        'engine: { transactional: true }\nworkload: { ops: 5 }\nfault: { kind: drop_writes }\n',
      ),
    {
      instanceOf: ScenarioError,
    },
  );
  t.regex(error.message, /^e\.yaml:1:9: engine/);
});

test('log-writes takes explore, not arm; flakey faults take arm, not explore', (t) => {
  const ok = parseScenario(
    'lw.yaml',
    "engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: log-writes, explore: 'reorder:2', maxStates: 50 }\n",
  );
  t.like(ok.scenario.fault, { kind: 'log-writes', explore: 'reorder:2', maxStates: 50 });
  const armed = t.throws(
    () =>
      parseScenario(
        'lw.yaml',
        'engine: { mode: cow }\nworkload: { ops: 5 }\nfault:\n  kind: log-writes\n  arm: { afterOp: 3 }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(armed.message, /^lw\.yaml:5:8: fault\.arm: log-writes records the whole run/);
  const explore = t.throws(
    () =>
      parseScenario(
        'f.yaml',
        'engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, explore: marks }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(
    explore.message,
    /^f\.yaml:3:\d+: fault\.explore: explore applies only to fault kind log-writes/,
  );
  const mode = t.throws(
    () =>
      parseScenario(
        'm.yaml',
        "engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: log-writes, explore: 'all' }\n",
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(
    mode.message,
    /fault\.explore: "all" is not valid: must be flush, marks, reorder:N, tear:N or misdirect:N/,
  );
});

test('screen: host only where the host can replay the journal: ext4 and a built-in engine', (t) => {
  const fault = 'workload: { ops: 5 }\nfault: { kind: log-writes, explore: marks, screen: host }';
  t.notThrows(() => parseScenario('ok.yaml', `engine: { mode: fsync }\n${fault}\n`));
  const xfs = t.throws(
    () =>
      parseScenario('x.yaml', `engine: { mode: fsync }\nmatrix: { fs: [ext4, xfs] }\n${fault}\n`),
    { instanceOf: ScenarioError },
  );
  t.regex(
    xfs.message,
    /^x\.yaml:4:\d+: fault\.screen: .*xfs has no such replay outside the kernel/,
  );
  const user = t.throws(
    () => parseScenario('u.yaml', `engine: { command: ./my-engine }\n${fault}\n`),
    { instanceOf: ScenarioError },
  );
  t.regex(user.message, /^u\.yaml:3:\d+: fault\.screen: .*only built-in engines/);
  const flakey = t.throws(
    () =>
      parseScenario(
        'f.yaml',
        'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, screen: host }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(flakey.message, /fault\.screen: screen applies only to fault kind log-writes/);
});

test('fsck: a log-writes switch (default off); a boolean, and nothing for a dm-flakey fault', (t) => {
  const [plan] = expandScenario(
    parseScenario(
      'ok.yaml',
      'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: log-writes, fsck: false }\n',
    ),
    { baseSeed: 1 },
  );
  t.is(plan!.fault.fsck, false);
  const flakey = t.throws(
    () =>
      parseScenario(
        'f.yaml',
        'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, fsck: false }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(
    flakey.message,
    /^f\.yaml:3:\d+: fault\.fsck: fsck applies only to fault kind log-writes/,
  );
  const text = t.throws(
    () =>
      parseScenario(
        'b.yaml',
        'engine: { mode: fsync }\nworkload: { ops: 5 }\nfault: { kind: log-writes, fsck: maybe }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(text.message, /^b\.yaml:3:\d+: fault\.fsck: .*boolean.*"maybe"/);
});

test('screen: store only for a store whose pages stay in place: direct-layout engines on ext4 or xfs, data not journaled', (t) => {
  const fault = 'workload: { ops: 5 }\nfault: { kind: log-writes, explore: marks, screen: store }';
  t.notThrows(() =>
    parseScenario(
      'ok.yaml',
      `engine: { mode: fsync }\nmatrix: { fs: [ext4, xfs], mode: [plain, fsync, group-commit] }\n${fault}\n`,
    ),
  );
  rejects(
    t,
    'b.yaml',
    `engine: { mode: fsync }\nmatrix: { fs: [ext4, btrfs] }\n${fault}\n`,
    /^b\.yaml:4:\d+: fault\.screen: screen: store maps the store's blocks to device sectors: btrfs reports logical addresses/,
  );
  rejects(
    t,
    'c.yaml',
    `engine: { mode: fsync }\nmatrix: { mode: [fsync, cow] }\n${fault}\n`,
    /^c\.yaml:4:\d+: fault\.screen: .*plain, fsync or group-commit, not cow/,
  );
  rejects(
    t,
    'j.yaml',
    `filesystem: { type: ext4, mountOptions: 'noatime,data=journal' }\nengine: { mode: fsync }\n${fault}\n`,
    /^j\.yaml:4:\d+: fault\.screen: .*data=journal sends it through the journal/,
  );
});

test('misdirect:N only where a block is known to hold a page: direct-layout built-in engines on ext4 or xfs', (t) => {
  const fault = 'workload: { ops: 5 }\nfault: { kind: log-writes, explore: misdirect:2 }';
  t.notThrows(() =>
    parseScenario(
      'ok.yaml',
      `engine: { mode: fsync }\nmatrix: { fs: [ext4, xfs], mode: [plain, fsync, group-commit] }\n${fault}\n`,
    ),
  );
  rejects(
    t,
    'c.yaml',
    `engine: { mode: cow }\n${fault}\n`,
    /^c\.yaml:3:\d+: fault\.explore: misdirect:N needs a store whose pages stay in place: .*not cow/,
  );
  rejects(
    t,
    'u.yaml',
    `engine: { command: ./my-engine }\n${fault}\n`,
    /^u\.yaml:3:\d+: fault\.explore: misdirect:N .*only built-in engines/,
  );
  rejects(
    t,
    'b.yaml',
    `filesystem: { type: btrfs }\nengine: { mode: fsync }\n${fault}\n`,
    /^b\.yaml:4:\d+: fault\.explore: .*btrfs reports logical addresses/,
  );
});

test('a fault armed at a mark the engine never reaches is rejected before any trial runs', (t) => {
  const ok = parseScenario(
    'ok.yaml',
    "engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, arm: { atMark: 'cow:before-meta' } }\n",
  );
  t.like(ok.scenario.fault.arm, { atMark: 'cow:before-meta', occurrence: 1 });
  const wrongMode = t.throws(
    () =>
      parseScenario(
        'w.yaml',
        "engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, arm: { atMark: 'cow:before-meta' } }\nmatrix: { mode: [cow, fsync] }\n",
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(
    wrongMode.message,
    /^w\.yaml:3:\d+: fault\.arm\.atMark: engine mode fsync never reaches mark "cow:before-meta"/,
  );
  const typo = t.throws(
    () =>
      parseScenario(
        't.yaml',
        "engine: { mode: cow }\nworkload: { ops: 5 }\nfault: { kind: drop_writes, arm: { atMark: 'cow:before-meat' } }\n",
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(typo.message, /its marks: ack, cow:before-meta/);
});

test('a user engine is armed at a mark only if it declares supports: [pause-at]', (t) => {
  const fault = "fault: { kind: drop_writes, arm: { atMark: 'ack', occurrence: 3 } }\n";
  const undeclared = t.throws(
    () => parseScenario('u.yaml', `engine: { command: /bin/eng }\nworkload: { ops: 5 }\n${fault}`),
    { instanceOf: ScenarioError },
  );
  t.regex(undeclared.message, /^u\.yaml:3:\d+: fault\.arm\.atMark: .*supports: \[pause-at\]/);
  const declared = parseScenario(
    'd.yaml',
    `engine: { command: /bin/eng, supports: [pause-at] }\nworkload: { ops: 5 }\n${fault}`,
  );
  t.like(declared.scenario.engine, { supports: ['pause-at'] });
  const unknown = t.throws(
    () =>
      parseScenario(
        'x.yaml',
        'engine: { command: /bin/eng, supports: [teleport] }\nworkload: { ops: 5 }\nfault: { kind: drop_writes }\n',
      ),
    { instanceOf: ScenarioError },
  );
  t.regex(unknown.message, /^x\.yaml:1:\d+: engine\.supports\.0/);
});
