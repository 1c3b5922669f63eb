import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseLog } from '../../../src/logwrites/format.ts';
import { writeStateImage } from '../../../src/cli/state-image-command.ts';
import { logArtifact } from '../../../src/harness/trial/exploration-check.ts';
import { fsckNotAsked } from '../../../src/harness/fs/filesystem.ts';
import { runTrial, type TrialResult } from '../../../src/harness/trial/run-trial.ts';
import { guestEngineDir, guestNode } from '../../../src/harness/trial/guest-engine.ts';
import { guestWithEngines, plans } from './vm-helpers.ts';

// Systematic crash states: each trial records its run with the real dm-log-writes target in the
// embedded guest and checks every chosen state of the recording (dm snapshot, fsck, mount,
// recover, dump, oracles). One guest for the file.
const guest = guestWithEngines(test);

const scenario = (
  engine: string,
  explore: string,
  workload = 'ops: 12, pages: 8, txnSize: 4',
  extra = '',
) => `
device: { sizeMb: 64 }
engine: { ${engine} }
workload: { ${workload} }
fault: { kind: log-writes, explore: '${explore}'${extra} }
`;
const summary = (r: TrialResult): string => {
  const e = r.exploration!;
  return `${r.plan.id}: ${e.checked} states ${JSON.stringify(e.byBoundary)} in ${(e.exploreMs / 1000).toFixed(1)} s, failing [${e.failing.map((f) => f.id).join(' ')}], acked ${r.verdict.stats.acked}/${r.verdict.stats.ops}`;
};

/**
 * What every screened exploration must show: every state screened on the host, host and
 * kernel agreeing wherever the kernel checked, every failing state a kernel verdict, and at
 * least 3 states confirmed.
 */
function assertScreened(t: ExecutionContext, r: TrialResult, hostLine: string): void {
  const e = r.exploration!;
  const s = e.screen!;
  t.log(`${summary(r)}; host: ${hostLine}, kernel confirmed ${s.confirmed}`);
  t.true(e.replayMatchesDevice);
  t.is(s.screened, e.checked, 'every state screened on the host');
  t.deepEqual(s.disagreements, [], 'the host and the kernel agree on every confirmed state');
  t.true(
    e.failing.every((f) => f.checkedBy === 'kernel'),
    'a failing state is a kernel verdict',
  );
  t.true(s.confirmed >= Math.min(3, s.screened));
}

test.serial(
  '[vm] fsync passes every acknowledgement state, each filesystem checked (fsck: true); the replay equals the device',
  async (t) => {
    const r = await runTrial(
      guest(),
      plans(scenario('mode: fsync', 'marks', undefined, ', fsck: true'))[0]!,
      {},
    );
    t.log(summary(r));
    const e = r.exploration!;
    t.true(e.replayMatchesDevice);
    t.deepEqual(e.failing, []);
    t.true(
      e.states.every((s) => s.fsck.clean && s.fsck.output !== fsckNotAsked.output),
      "every state fsck'd, and clean",
    );
    t.deepEqual(r.verdict.anomalies, []);
    t.is(r.verdict.stats.acked, 12);
    // A state right after every ack (each ack's mark follows its own flush), plus the empty
    // start; the end mark may add one more if the filesystem wrote after the last ack.
    t.deepEqual(
      [...new Set(e.states.map((s) => s.acked))].sort((a, b) => a - b),
      Array.from({ length: 13 }, (_, i) => i),
    );
    t.is(Math.max(...e.states.map((s) => s.acked)), 12, 'the last states hold every ack');
  },
);

test.serial(
  '[vm] screen: host checks every state on the host; the kernel confirms each failing one and a sample of the rest, and agrees',
  async (t) => {
    const screened = (engine: string, explore: string) =>
      runTrial(
        guest(),
        plans(scenario(engine, explore, 'ops: 8, pages: 6', ', screen: host, fsck: true'))[0]!,
        {},
      );
    const bug = await screened('mode: fsync, bug: ack-before-sync', 'marks');
    const correct = await screened('mode: fsync', 'reorder:1');
    for (const r of [bug, correct]) {
      const s = r.exploration!.screen!;
      assertScreened(t, r, `${s.screened} states in ${(s.ms / 1000).toFixed(1)} s`);
    }
    t.true(bug.exploration!.failing.length > 0);
    t.true(bug.exploration!.failing.every((f) => f.anomalies.some((a) => a.kind === 'lost-ack')));
    t.true(
      correct.exploration!.states.every((s) => s.fsck.output !== fsckNotAsked.output),
      'fsck: true: e2fsck on the host, the fsck in the guest',
    );
    // The failing trial keeps the recording the screen brought over (not downloaded twice).
    const kept = bug.artifacts?.find((a) => a.name === logArtifact);
    t.truthy(kept, 'the recording is kept beside the failing trial');
    const log = gunzipSync(kept!.data);
    t.is(
      parseLog((offset, length) => log.subarray(offset, offset + length), log.length).entries
        .length,
      bug.exploration!.logEntries,
    );
    t.deepEqual(correct.exploration!.failing, []);
    t.true(
      correct.exploration!.states.some((x) => x.checkedBy === 'host'),
      'passing states the kernel did not sample stand on the host check',
    );
  },
);

for (const fs of ['ext4', 'xfs']) {
  test.serial(
    `[vm] screen: store reads the store out of the recording on ${fs}; the kernel confirms every failing state and a sample, and agrees`,
    async (t) => {
      const screened = (engine: string, explore: string) =>
        runTrial(
          guest(),
          plans(
            // xfs needs 300 MB at least.
            `filesystem: { type: ${fs} }\n${scenario(engine, explore, 'ops: 8, pages: 6', ', screen: store')}`.replace(
              'sizeMb: 64',
              fs === 'xfs' ? 'sizeMb: 320' : 'sizeMb: 64',
            ),
          )[0]!,
          {},
        );
      const bug = await screened('mode: fsync, bug: ack-before-sync', 'marks');
      const correct = await screened('mode: group-commit, writers: 4', 'reorder:1');
      for (const r of [bug, correct]) {
        const s = r.exploration!.screen!;
        assertScreened(
          t,
          r,
          `${s.screened} states (${s.distinct} distinct store images) in ${(s.ms / 1000).toFixed(2)} s (download ${(s.downloadMs / 1000).toFixed(2)} s)`,
        );
        t.true(s.distinct! >= 1 && s.distinct! <= s.screened);
      }
      t.true(bug.exploration!.failing.length > 0, 'the ack-before-sync engine is caught');
      t.true(bug.exploration!.failing.every((f) => f.anomalies.some((a) => a.kind === 'lost-ack')));
      t.deepEqual(correct.exploration!.failing, []);
    },
  );
}

test.serial(
  '[vm] misdirect:1: a correct fsync passes every state with a store write at another block (kernel); no-checksum returns the misplaced page as data (screened, confirmed, rebuilt)',
  async (t) => {
    const correct = await runTrial(
      guest(),
      plans(scenario('mode: fsync', 'misdirect:1', 'ops: 8, pages: 6'))[0]!,
      {},
    );
    t.log(summary(correct));
    const e = correct.exploration!;
    t.true(e.replayMatchesDevice);
    t.true((e.byBoundary.misdirect ?? 0) >= 8, 'a misdirected state for every page write');
    t.true(e.states.every((s) => s.checkedBy === 'kernel'));
    t.deepEqual(e.failing, []);

    const bug = await runTrial(
      guest(),
      plans(
        scenario(
          'mode: fsync, bug: no-checksum',
          'misdirect:1',
          'ops: 8, pages: 6',
          ', screen: store',
        ),
      )[0]!,
      {},
    );
    const s = bug.exploration!.screen!;
    assertScreened(t, bug, `${s.screened} states (${s.distinct} distinct store images)`);
    const failing = bug.exploration!.failing;
    t.true(failing.length > 0, 'the engine that trusts a page header is caught');
    t.true(failing.every((f) => f.boundary === 'misdirect'));
    t.true(
      failing.every((f) =>
        f.anomalies.some((a) => a.kind === 'phantom' && /misdirected write/.test(a.message)),
      ),
    );
    // The failing state rebuilds on the host from the trial's recording and its id.
    const log = bug.artifacts?.find((a) => a.name === logArtifact);
    t.truthy(log);
    const dir = mkdtempSync(join(tmpdir(), 'powercut-state-'));
    try {
      writeFileSync(join(dir, logArtifact), log!.data);
      const built = await writeStateImage({
        log: join(dir, logArtifact),
        state: failing[0]!.id,
        sizeBytes: 64 << 20,
        out: join(dir, 'state.img'),
      });
      t.true(built.bytes > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test.serial(
  "[vm] fsck only where the scenario asks: without fsck: true no state is fsck'd, on the host screen or the kernel; the engine is still judged",
  async (t) => {
    const r = await runTrial(
      guest(),
      plans(
        scenario(
          'mode: fsync, bug: ack-before-sync',
          'marks',
          'ops: 6, pages: 6',
          ', screen: host',
        ),
      )[0]!,
      {},
    );
    const s = r.exploration!.screen!;
    assertScreened(t, r, `${s.screened} states`);
    t.true(
      r.exploration!.states.every((e) => e.fsck.output === fsckNotAsked.output),
      'every state, screened or confirmed, says it was not checked',
    );
    t.true(r.exploration!.failing.length > 0, 'the ack-before-sync engine is still caught');
  },
);

test.serial('[vm] marks catch an fsync engine that acknowledges before fdatasync', async (t) => {
  const r = await runTrial(
    guest(),
    plans(scenario('mode: fsync, bug: ack-before-sync', 'marks', 'ops: 6, pages: 6'))[0]!,
    {},
  );
  t.log(summary(r));
  const e = r.exploration!;
  t.true(e.failing.length > 0);
  t.true(e.failing.every((f) => f.anomalies.some((a) => a.kind === 'lost-ack')));
  t.false(r.verdict.valid);
});

test.serial(
  '[vm] cow-meta-before-data-sync: missed by a drop window, caught by reorder:1; the failing state rebuilds on the host',
  async (t) => {
    // dm-flakey: the device drops everything from op 8 on, meta and data alike: nothing torn.
    const window = await runTrial(
      guest(),
      plans(`
engine: { mode: cow, bug: cow-meta-before-data-sync }
workload: { ops: 16, pages: 8, txnSize: 4 }
fault: { kind: drop_writes, arm: { afterOp: 8 } }
`)[0]!,
      {},
    );
    t.log(`drop window: anomalies [${window.verdict.anomalies.map((a) => a.kind).join(', ')}]`);
    t.deepEqual(window.verdict.anomalies, [], 'a single drop window misses this bug');

    const r = await runTrial(
      guest(),
      plans(
        scenario(
          'mode: cow, bug: cow-meta-before-data-sync',
          'reorder:1',
          'ops: 16, pages: 8, txnSize: 4',
        ),
      )[0]!,
      {},
    );
    t.log(summary(r));
    const e = r.exploration!;
    t.true(e.failing.length > 0, 'some state has the new meta without all of its data');
    t.true(
      e.failing.every((f) => f.boundary === 'reorder'),
      'only reordered states expose it',
    );
    t.true(r.verdict.anomalies.some((a) => a.kind === 'non-atomic' || a.kind === 'lost-ack'));

    // The recorded log came back with the trial; rebuild the first failing state on the host.
    const log = r.artifacts?.find((a) => a.name === logArtifact);
    t.truthy(log);
    const dir = mkdtempSync(join(tmpdir(), 'powercut-state-'));
    try {
      writeFileSync(join(dir, logArtifact), log!.data);
      const out = join(dir, 'state.img');
      const failing = e.failing[0]!;
      const built = await writeStateImage({
        log: join(dir, logArtifact),
        state: failing.id,
        sizeBytes: 64 << 20,
        out,
      });
      t.true(built.bytes > 0);
      const image = readFileSync(out);
      t.is(image.length, 64 << 20);
      t.is(image.readUInt16LE(1024 + 0x38), 0xef53, 'an ext4 superblock');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test.serial('[vm] cow passes every reorder:1 state on xfs', async (t) => {
  const r = await runTrial(
    guest(),
    plans(`
device: { sizeMb: 320 }
filesystem: { type: xfs }
engine: { mode: cow }
workload: { ops: 12, pages: 8, txnSize: 4 }
fault: { kind: log-writes, explore: 'reorder:1', maxStates: 40 }
`)[0]!,
    {},
  );
  t.log(summary(r));
  const e = r.exploration!;
  t.true(e.replayMatchesDevice);
  t.true(e.byBoundary.reorder! > 0);
  t.deepEqual(e.failing, []);
  t.true(r.verdict.stats.acked > 0);
});

/** Explores the C example engine; checks what holds either way (replay, no failing state, every op acked). */
async function exploreCEngine(
  t: ExecutionContext,
  o: { ops: number; explore: 'flush' | 'marks' },
): Promise<TrialResult> {
  const r = await runTrial(
    guest(),
    plans(`
device: { sizeMb: 64 }
engine:
  build: make -s -C examples/c-engine
  upload: examples/c-engine/build/engine
workload: { ops: ${o.ops}, pages: 8 }
fault: { kind: log-writes, explore: ${o.explore} }
`)[0]!,
    {},
  );
  t.log(summary(r));
  t.true(r.exploration!.replayMatchesDevice);
  t.deepEqual(r.exploration!.failing, []);
  t.is(r.verdict.stats.acked, o.ops);
  return r;
}

test.serial(
  "[vm] a user's engine (C, protocol v1, no --pause-at) is explored through its recover and dump commands",
  async (t) => {
    const e = (await exploreCEngine(t, { ops: 10, explore: 'flush' })).exploration!;
    t.is(Math.max(...e.states.map((s) => s.acked)), 10);
    t.true(e.states.every((s) => s.recoverError === undefined));
  },
);

test.serial(
  "[vm] a user's engine with no extension gets exact ack marks from the tracer: one state per ack, each holding exactly the acks before it",
  async (t) => {
    const r = await exploreCEngine(t, { ops: 8, explore: 'marks' });
    t.false(
      r.log.some((l) => l.includes('came later than their ack')),
      r.log.join('\n'),
    );
    // The tracer stopped the engine after every ack until its mark was in the log, so no two
    // acks share a state.
    const markStates = r.exploration!.states.filter((s) => s.boundary === 'mark');
    t.deepEqual(
      markStates.map((s) => s.acked).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  },
);

/** Runs in the guest with the installed addon: the explorer's device-mapper and mount calls. */
const dmProbe = `
const n = require('${guestEngineDir}/powercut_native.node');
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const sh = (c) => execSync(c, { encoding: 'utf8' }).trim();
const listed = (name) => sh('dmsetup ls').split('\\n').some((l) => l.split(/\\s/)[0] === name);
const codeOf = (f) => { try { f(); return 'no error'; } catch (e) { return e.code + ' ' + e.syscall; } };
const dir = '/var/tmp/powercut-dm-probe';
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir);
sh('truncate -s 8M ' + dir + '/origin ' + dir + '/cow && mkfs.ext4 -q ' + dir + '/origin');
const origin = sh('losetup --find --show ' + dir + '/origin');
const cow = sh('losetup --find --show ' + dir + '/cow');
const out = {};
try {
  const name = 'powercut-dm-probe';
  const dev = n.dmCreate(name, 'snapshot', 16384, origin + ' ' + cow + ' N 8');
  out.listed = listed(name);
  out.table = sh('dmsetup table ' + name);
  out.duplicate = codeOf(() => n.dmCreate(name, 'snapshot', 16384, origin + ' ' + cow + ' N 8'));
  n.mknodBlock(dir + '/node', dev.major, dev.minor);
  fs.mkdirSync(dir + '/mnt');
  n.mount(dir + '/node', dir + '/mnt', 'ext4');
  fs.writeFileSync(dir + '/mnt/x', 'through the snapshot');
  out.busy = codeOf(() => n.dmRemove(name));
  n.umount(dir + '/mnt');
  out.notMounted = codeOf(() => n.umount(dir + '/mnt'));
  n.dmRemove(name);
  out.removed = !listed(name);
  out.missing = codeOf(() => n.dmRemove(name));
  out.badTable = codeOf(() => n.dmCreate(name + '-bad', 'snapshot', 16384, '/dev/nonexistent ' + cow + ' N 8'));
  out.badLeft = listed(name + '-bad');
  const text = Buffer.from('through the snapshot');
  out.originUnchanged = !fs.readFileSync(dir + '/origin').includes(text);
  out.inCow = fs.readFileSync(dir + '/cow').includes(text);
} finally {
  sh('losetup -d ' + origin + ' ' + cow);
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
`;

test.serial(
  "[vm] the explorer's device-mapper and mount calls: a snapshot made, mounted and removed with no dmsetup; a busy, duplicate, missing or bad one is an error that leaves nothing behind",
  async (t) => {
    const local = join(mkdtempSync(join(tmpdir(), 'powercut-dm-probe-')), 'probe.cjs');
    writeFileSync(local, dmProbe);
    await guest().upload(local, '/var/tmp/powercut-dm-probe.cjs');
    rmSync(dirname(local), { recursive: true, force: true });
    const r = await guest().exec(`${guestNode} /var/tmp/powercut-dm-probe.cjs`, { check: false });
    t.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    t.true(out.listed, 'dmsetup sees the device');
    t.regex(String(out.table), /^0 16384 snapshot \d+:\d+ \d+:\d+ N 8$/);
    // dm refuses a name in use with EBUSY; the device of that name is left as it was (used below).
    t.is(out.duplicate, 'EBUSY DM_DEV_CREATE');
    t.is(out.busy, 'EBUSY DM_DEV_REMOVE', 'a mounted snapshot is not removed');
    t.is(out.notMounted, 'EINVAL umount');
    t.true(out.removed);
    t.is(out.missing, 'ENXIO DM_DEV_REMOVE');
    t.regex(String(out.badTable), /^\S+ DM_TABLE_LOAD$/);
    t.false(out.badLeft, 'a device whose table failed to load is removed again');
    t.true(out.originUnchanged && out.inCow, 'the write went to the snapshot, not its origin');
  },
);
