import test from 'ava';
import { guestEngineCommand } from '../../../src/harness/trial/guest-engine.ts';
import { createFaultDevice } from '../../../src/harness/device/fault-device.ts';
import { HarnessError } from '../../../src/harness/errors.ts';
import { runTrial, type TrialResult } from '../../../src/harness/trial/run-trial.ts';
import { recoverAfterCrash } from '../../../src/harness/trial/recovery-check.ts';
import { TrialRig } from '../../../src/harness/trial/trial-rig.ts';
import { check } from '../../../src/oracles/check.ts';
import { guestWithEngines, plans } from './vm-helpers.ts';

// Real trials: the embedded QEMU guest, real dm-flakey, real filesystems. One guest per file,
// trials in series (they share the guest).
const guest = guestWithEngines(test);

const kinds = (r: TrialResult): string[] =>
  [...new Set(r.verdict.anomalies.map((a) => a.kind))].sort();
const summary = (r: TrialResult): string =>
  `${r.plan.id}: acked ${r.verdict.stats.acked}/${r.verdict.stats.ops}, while faulty ${r.verdict.stats.ackedWhileFaulty}, anomalies [${kinds(r)}], phases ${JSON.stringify(r.phaseMs)}`;

const dropScenario = (mode: string, fs: string, extra = '') => `
engine: { mode: ${mode}${extra} }
filesystem: { type: ${fs} }
workload: { ops: 40, pages: 16, txnSize: 4 }
fault: { kind: drop_writes, arm: { afterOp: 20 } }
`;

for (const fs of ['ext4', 'xfs']) {
  test.serial(`[vm] plain loses acknowledged writes in a drop window on ${fs}`, async (t) => {
    const r = await runTrial(guest(), plans(dropScenario('plain', fs))[0]!, {});
    t.log(summary(r));
    t.true(
      r.verdict.anomalies.some((a) => a.kind === 'lost-ack'),
      'plain must lose data it acknowledged',
    );
  });
  for (const mode of ['fsync', 'group-commit', 'cow']) {
    test.serial(
      `[vm] ${mode} loses nothing it acknowledged before the drop on ${fs}`,
      async (t) => {
        const extra = mode === 'group-commit' ? ', writers: 8' : '';
        const r = await runTrial(guest(), plans(dropScenario(mode, fs, extra))[0]!, {});
        t.log(summary(r));
        t.deepEqual(r.verdict.anomalies, []);
        t.true(r.verdict.stats.acked > 0);
        t.true(r.verdict.stats.recoveredValues > 0, 'something survived the crash');
        t.true(
          r.verdict.stats.ackedWhileFaulty > 0,
          'the drop window really covered acknowledged ops',
        );
      },
    );
  }
}

test.serial(
  '[vm] in the trial agent a trial is one request, with the verdicts it has step by step',
  async (t) => {
    const target = guest();
    const plain = plans(dropScenario('plain', 'ext4'))[0]!;
    const fsync = plans(dropScenario('fsync', 'ext4'))[0]!;
    // The first trial starts the agent (a spawn); after that a trial makes no exec or spawn.
    t.deepEqual((await runTrial(target, fsync, { via: 'agent' })).verdict.anomalies, []);
    const { exec, spawn } = target;
    const calls: string[] = [];
    Object.assign(target, {
      exec: (...a: Parameters<typeof exec>) => (calls.push(a[0]), exec.apply(target, a)),
      spawn: (...a: Parameters<typeof spawn>) => (calls.push(a[0]), spawn.apply(target, a)),
    });
    try {
      const phases: string[] = [];
      const lost = await runTrial(target, plain, {
        via: 'agent',
        onPhase: (p) => phases.push(p),
      });
      t.log(summary(lost));
      t.true(
        lost.verdict.anomalies.some((a) => a.kind === 'lost-ack'),
        'plain must lose data it acknowledged, in the agent too',
      );
      t.deepEqual(
        [...new Set(phases)].sort(),
        ['check', 'device', 'fault', 'recover', 'workload'],
        'the phases came back as they happened',
      );
      const kept = await runTrial(target, fsync, { via: 'agent' });
      t.log(summary(kept));
      t.deepEqual(kept.verdict.anomalies, []);
      t.true(kept.verdict.stats.ackedWhileFaulty > 0, 'the drop window covered acknowledged ops');
      t.true(kept.fsck?.clean, 'the filesystem was checked after recovery');
      t.deepEqual(calls, [], 'the trials were requests to the agent, not commands');
    } finally {
      Object.assign(target, { exec, spawn });
    }
  },
);

test.serial('[vm] fsync on btrfs with O_DIRECT', async (t) => {
  const r = await runTrial(
    guest(),
    plans(dropScenario('fsync', 'btrfs', ', direct: true'))[0]!,
    {},
  );
  t.log(summary(r));
  t.deepEqual(r.verdict.anomalies, []);
  t.true(r.verdict.stats.recoveredValues > 0);
});

test.serial(
  '[vm] error_writes: fdatasync fails with EIO and fsync does not acknowledge',
  async (t) => {
    const yaml = `
engine: { mode: fsync }
workload: { ops: 30, pages: 16 }
fault: { kind: error_writes, arm: { afterOp: 10 }, disarm: { afterOp: 20 } }
`;
    const r = await runTrial(guest(), plans(yaml)[0]!, {});
    t.log(summary(r));
    const fails = r.history.events.filter((e) => e.type === 'fail');
    t.true(fails.length > 0, 'ops in the error window fail');
    t.true(fails.every((e) => e.type === 'fail' && e.err === 'EIO'));
    t.deepEqual(r.verdict.anomalies, []);
  },
);

test.serial(
  '[vm] the fsyncgate engine (acks failed ops after a later fdatasync succeeds) is caught as ack-after-eio',
  async (t) => {
    const yaml = `
# commit=60: no ext4 journal commit falls in the error window (it would abort the journal and
# leave the filesystem read-only, hiding the pattern under a bigger failure).
engine: { mode: fsync, bug: ignore-eio }
filesystem: { type: ext4, mountOptions: commit=60 }
workload: { ops: 30, pages: 16 }
fault: { kind: error_writes, arm: { afterOp: 10 }, disarm: { afterOp: 20 } }
`;
    const r = await runTrial(guest(), plans(yaml)[0]!, {});
    t.log(summary(r));
    t.log(r.verdict.anomalies[0]?.message ?? 'no anomaly');
    t.true(kinds(r).includes('ack-after-eio'));
  },
);

test.serial(
  '[vm] cow: fault armed between the data and meta writes of the 2nd commit',
  async (t) => {
    const yaml = `
engine: { mode: cow }
workload: { ops: 30, pages: 12, txnSize: 4 }
fault: { kind: drop_writes, arm: { atMark: 'cow:before-meta', occurrence: 2 } }
`;
    const r = await runTrial(guest(), plans(yaml)[0]!, {});
    t.log(summary(r));
    const paused = r.history.events.filter(
      (e) => e.type === 'mark' && e.name === 'cow:before-meta' && e.paused,
    );
    t.true(paused.length >= 2);
    const armAt = r.history.events.findIndex((e) => e.type === 'nemesis' && e.action === 'arm');
    const secondMark = r.history.events.indexOf(paused[1]!);
    t.is(armAt, secondMark + 1, 'armed right at the 2nd commit, before its meta write');
    t.deepEqual(r.verdict.anomalies, []);
  },
);

test.serial('[vm] a user engine in C plugs in through the engine protocol', async (t) => {
  const yaml = `
engine: { build: 'make -s -C examples/c-engine', upload: examples/c-engine/build/engine }
workload: { ops: 30, pages: 16 }
fault: { kind: drop_writes, arm: { afterOp: 15 } }
`;
  // Step by step, and in the trial agent (the engine built and uploaded from here either way).
  for (const via of ['steps', 'agent'] as const) {
    const r = await runTrial(guest(), plans(yaml)[0]!, { via });
    t.log(via, summary(r));
    t.is(r.verdict.stats.acked, 30);
    t.true(r.verdict.stats.recoveredValues > 0);
    t.deepEqual(r.verdict.anomalies, []);
  }
});

test.serial(
  '[vm] a user engine declaring supports: [pause-at] is armed right after its 10th ack; a mark it never reaches is an error, not a pass',
  async (t) => {
    const engine =
      "engine: { build: 'make -s -C examples/c-engine', upload: examples/c-engine/build/engine, supports: [pause-at] }";
    const scenario = (mark: string): string =>
      `${engine}\nworkload: { ops: 30, pages: 16 }\nfault: { kind: drop_writes, arm: { atMark: '${mark}', occurrence: 10 } }\n`;
    const r = await runTrial(guest(), plans(scenario('ack'))[0]!, {});
    t.log(summary(r));
    const events = r.history.events;
    const paused = events.filter((e) => e.type === 'mark' && e.name === 'ack' && e.paused);
    t.is(paused.length, 30);
    const armAt = events.findIndex((e) => e.type === 'nemesis' && e.action === 'arm');
    t.is(armAt, events.indexOf(paused[9]!) + 1, 'armed while the engine waited after ack 10');
    t.is(r.verdict.stats.acked, 30);
    t.is(r.verdict.stats.ackedWhileFaulty, 20);
    t.deepEqual(r.verdict.anomalies, []);

    await t.throwsAsync(runTrial(guest(), plans(scenario('mydb:commit'))[0]!, {}), {
      instanceOf: HarnessError,
      message: /never paused at mark 'mydb:commit' .* the fault was never armed/,
    });
    // The same error, and the same class, when the trial ran in the agent.
    await t.throwsAsync(runTrial(guest(), plans(scenario('mydb:commit'))[0]!, { via: 'agent' }), {
      instanceOf: HarnessError,
      message: /never paused at mark 'mydb:commit' .* the fault was never armed/,
    });
  },
);

test.serial(
  '[vm] a time-armed fault due after the workload ended is a harness error, not a pass; paced, it arms',
  async (t) => {
    const scenario = (pacing: string, seconds: number): string =>
      `engine: { mode: fsync }\nworkload: { ops: 6, pages: 4${pacing} }\nfault: { kind: drop_writes, arm: { afterSeconds: ${seconds} } }\n`;
    await t.throwsAsync(runTrial(guest(), plans(scenario('', 30))[0]!, {}), {
      instanceOf: HarnessError,
      message:
        /^fault\.arm\.afterSeconds: the workload ended after [\d.]+ s, before the fault was due at 30 s/,
    });
    const paced = await runTrial(guest(), plans(scenario(', opsPerSecond: 2', 1.5))[0]!, {});
    t.log(summary(paced));
    t.true(paced.history.events.some((e) => e.type === 'nemesis' && e.action === 'arm'));
    t.true(paced.verdict.stats.ackedWhileFaulty > 0);
    t.deepEqual(paced.verdict.anomalies, []);
  },
);

test.serial(
  '[vm] an engine that answers nothing in the protocol fails its trial instead of passing it',
  async (t) => {
    // (armed after op N, such an engine times out at the arm point: a harness error). It waits
    // out the whole timeout for answers, so the test shortens it.
    const yaml = `
engine: { command: "sh -c '[ \\"$0\\" != run ] || { cat >/dev/null; echo not-json; }'" }
workload: { ops: 10, pages: 4 }
fault: { kind: drop_writes, schedule: { up: 1, down: 1 } }
expect: { lost-ack: none }
`;
    const r = await runTrial(guest(), plans(yaml)[0]!, { timeoutMs: 5000 });
    t.log(summary(r));
    t.deepEqual(r.verdict.anomalies, []);
    t.false(r.expectation.ok);
    t.deepEqual(r.expectation.reasons, [
      'the engine answered none of its 10 ops (no ok or fail event): nothing was tested',
    ]);
  },
);

test.serial(
  '[vm] the same seed and scenario reproduce the trial: workload, arm point, recovered state, verdict',
  async (t) => {
    // cow armed between data and meta of commit 3 recovers exactly commit 2's state: a
    // deterministic outcome (plain's losses depend on kernel writeback timing, so they are not).
    const yaml = `
engine: { mode: cow }
workload: { ops: 24, pages: 12, txnSize: 3 }
fault: { kind: drop_writes, arm: { atMark: 'cow:before-meta', occurrence: 3 } }
`;
    const plan = plans(yaml, 99)[0]!;
    const a = await runTrial(guest(), plan, {});
    const b = await runTrial(guest(), plan, {});
    t.deepEqual(a.ops, b.ops);
    t.deepEqual(a.dump, b.dump);
    t.deepEqual(a.verdict, b.verdict);
    t.true(a.verdict.stats.recoveredValues > 0);
  },
);

test.serial(
  '[vm] an engine runs on a raw dm device too (no filesystem), buffered and O_DIRECT',
  async (t) => {
    const device = await createFaultDevice(guest(), { sizeBytes: 16 << 20 });
    try {
      for (const direct of ['', ' --direct']) {
        const input = [1, 2, 3]
          .map((id) =>
            JSON.stringify({ op: 'write', id, page: id, value: `raw${id}${direct ? 'd' : ''}` }),
          )
          .join('\n');
        const run = await guest().exec(
          `${guestEngineCommand} cow run --store ${device.path} --pages 8${direct}`,
          { stdin: `${input}\n{"op":"commit","id":4}\n` },
        );
        t.regex(run.stdout, /"id":4,"type":"ok"/);
        const dump = await guest().exec(
          `${guestEngineCommand} cow dump --store ${device.path} --pages 8${direct}`,
        );
        t.regex(dump.stdout, new RegExp(`\\{"page":2,"value":"raw2${direct ? 'd' : ''}"\\}`));
      }
    } finally {
      await device.destroy();
    }
  },
);

test.serial(
  '[vm] a correct copy-on-write engine under corrupt_bio_byte with many commits inside the window is not blamed for the device',
  async (t) => {
    // Byte 40 of every write bio is stored changed: the cow engine's pages (values, meta) are
    // damaged, and it checksums them. ~20 commits are acknowledged while the device corrupts.
    const yaml = `
engine: { mode: cow }
workload: { ops: 60, pages: 8, txnSize: 2 }
fault: { kind: corrupt_bio_byte, arm: { afterOp: 10 }, corrupt: { byte: 40, value: 88 } }
trials: 3
`;
    for (const plan of plans(yaml, 40)) {
      const r = await runTrial(guest(), plan, {});
      t.log(`${summary(r)}; recover: ${r.recoverError ?? 'ok'}`);
      t.true(r.verdict.stats.ackedWhileFaulty >= 10, 'many commits were acked while corrupting');
      for (const kind of [
        'lost-ack',
        'non-atomic',
        'unrecoverable',
        'corrupt-undetected',
        'phantom',
      ])
        t.false(
          kinds(r).includes(kind),
          `${kind}: ${r.verdict.anomalies.map((a) => a.message).join('; ')}`,
        );
    }
  },
);

for (const fs of ['ext4', 'xfs']) {
  test.serial(
    `[vm] corrupt_bio_byte lands only on the store's extents: ${fs} stays clean without lazytime, the engine sees its pages damaged`,
    async (t) => {
      // No lazytime: every write updates the inode's times, so the journal is written while the
      // device corrupts. Confined to the store's extents, none of that metadata is hit.
      const yaml = `
filesystem: { type: ${fs} }
engine: { mode: fsync }
workload: { ops: 40, pages: 16 }
fault: { kind: corrupt_bio_byte, arm: { afterOp: 10 }, corrupt: { byte: 40, value: 88 } }
`;
      const r = await runTrial(guest(), plans(yaml)[0]!, {});
      t.log(`${summary(r)}; ${r.log.filter((l) => l.includes('corrupt_bio_byte')).join('; ')}`);
      t.true(
        r.log.some((l) => /^corrupt_bio_byte confined to the store's \d+ extent\(s\)/.test(l)),
        r.log.join('\n'),
      );
      t.is(r.recoverError, undefined);
      t.true(r.fsck?.clean, r.fsck?.output);
      t.true(r.verdict.stats.ackedWhileFaulty >= 10, 'writes were acked while corrupting');
      t.true(
        r.dump.some((e) => 'error' in e),
        'the corruption reached the store: the engine reports damaged pages',
      );
      t.deepEqual(kinds(r), [], r.verdict.anomalies.map((a) => a.message).join('; '));
    },
  );
}

test.serial(
  '[vm] a filesystem that no longer mounts after the crash is an outcome (recover failed, fs-corrupt), not a harness error',
  async (t) => {
    const plan = plans(dropScenario('fsync', 'ext4'))[0]!;
    const rig = await TrialRig.create(guest(), plan);
    const recovered = await rig.use(async () => {
      const { store } = rig;
      await rig.pullPlug();
      // What a corrupting device can do to the filesystem's own metadata: its superblock gone.
      await rig.disarm();
      await guest().exec(
        `dd if=/dev/zero of=${rig.faultDevice.path} bs=1024 seek=1 count=1 conv=fsync 2>/dev/null`,
      );
      return {
        ...(await recoverAfterCrash(guest(), rig, plan, store, plan.workload.pages, 60_000)),
        log: [],
      };
    });
    t.regex(
      recovered.recoverError!,
      /^the ext4 filesystem did not mount after the crash \(`.*mount -t ext4 .*` exited \d+: /,
    );
    t.deepEqual(recovered.dump, []);
    t.true(recovered.mountFailed, 'so the trial can never pass');
    t.false(recovered.fsck.clean);
    t.regex(recovered.fsck.output, /^mount failed: /);
    // The checkers then see an unusable store and a corrupt filesystem.
    const verdict = check(
      {
        ops: [{ op: 'write', id: 1, page: 0, value: 'w1' }],
        events: [
          { id: 1, type: 'invoke', t: 1 },
          { id: 1, type: 'ok', t: 2 },
          { type: 'nemesis', t: 3, action: 'crash' },
        ],
      },
      recovered.dump,
      { transactional: false, recoverError: recovered.recoverError!, fsck: recovered.fsck },
    );
    t.deepEqual(verdict.anomalies.map((a) => a.kind).sort(), ['fs-corrupt', 'unrecoverable']);
  },
);
