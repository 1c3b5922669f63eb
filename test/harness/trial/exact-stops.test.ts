import test from 'ava';
import { runTrial, type TrialResult } from '../../../src/harness/trial/run-trial.ts';
import { guestWithEngines, plans } from './vm-helpers.ts';

// Exact fault points for engines that implement nothing of powercut's: a small static C engine
// (test/fixtures/engines/naive-engine.c) speaking protocol v1 only, with bugs planted through
// NAIVE_BUG. powercut's tracer stops it (ptrace + seccomp) at its acks and syscalls.
const guest = guestWithEngines(test);

const kinds = (r: TrialResult): string[] =>
  [...new Set(r.verdict.anomalies.map((a) => a.kind))].sort();
const summary = (r: TrialResult): string =>
  `${r.plan.id} seed ${r.plan.seed}: acked ${r.verdict.stats.acked}/${r.verdict.stats.ops} (${r.verdict.stats.ackedWhileFaulty} while lying), anomalies [${kinds(r)}], fsck ${r.fsck?.clean}`;

const naive = (bug: string | undefined, extra = ''): string => `
engine:
  build: make -s -C test/fixtures/engines
  upload: test/fixtures/engines/build/naive-engine
  command: ${bug ? `NAIVE_BUG=${bug} ` : ''}/opt/powercut/user/naive-engine
${extra}`;

const dropWindow = (bug: string | undefined, fs: string): string =>
  `${naive(bug)}
filesystem: { type: ${fs} }
workload: { ops: 30, pages: 8 }
fault: { kind: drop_writes, arm: { afterOp: 15 } }
trials: 5
`;

for (const fs of ['ext4', 'xfs']) {
  test.serial(
    `[vm] an engine with no extension that acks before syncing is caught in each of 5 seeded drop-window trials (afterOp) on ${fs}; without the bug it passes them all`,
    async (t) => {
      for (const [bug, caught] of [
        ['ack-before-sync', true],
        [undefined, false],
      ] as const) {
        for (const plan of plans(dropWindow(bug, fs), 100)) {
          const r = await runTrial(guest(), plan, {});
          t.log(summary(r));
          t.is(kinds(r).includes('lost-ack'), caught, `${bug ?? 'correct'}: ${summary(r)}`);
          const stop = r.history.events.find((e) => e.type === 'stop');
          t.like(stop, { type: 'stop', label: 'arm', event: 'answers', exact: true });
          if (!caught) {
            t.deepEqual(kinds(r), [], 'the correct engine stays clean');
            t.true(r.fsck?.clean, `the filesystem is clean after recovery: ${r.fsck?.output}`);
          }
        }
      }
    },
  );
}

test.serial(
  '[vm] log-writes marks are exact for an engine with no extension: ack-before-sync is caught, the correct engine passes',
  async (t) => {
    for (const [bug, caught] of [
      ['ack-before-sync', true],
      [undefined, false],
    ] as const) {
      const r = await runTrial(
        guest(),
        plans(`${naive(bug)}
device: { sizeMb: 64 }
workload: { ops: 8, pages: 8 }
fault: { kind: log-writes, explore: marks }
`)[0]!,
        {},
      );
      const e = r.exploration!;
      t.log(`${summary(r)}; ${e.checked} states, failing [${e.failing.map((f) => f.id)}]`);
      t.true(e.replayMatchesDevice);
      t.is(e.failing.length > 0, caught, bug ?? 'correct');
      t.false(r.log.some((l) => l.includes('came later than their ack')));
    }
  },
);

test.serial(
  '[vm] fsyncgate on the real kernel: a transient EIO that clears after the first failed sync; retry-then-ack is ack-after-eio, the correct engine fails the op',
  async (t) => {
    const scenario = (bug: string | undefined): string => `${naive(bug)}
# commit=60: no ext4 journal commit falls in the error window (it would abort the journal).
# 64 pages and op 11 almost last: no later write hides op 11's loss by replacing its page.
filesystem: { type: ext4, mountOptions: commit=60 }
workload: { ops: 12, pages: 64 }
fault:
  kind: error_writes
  arm: { afterOp: 10 }
  disarm: { at: failed-sync, occurrence: 1 }
`;
    const buggy = await runTrial(guest(), plans(scenario('retry-eio'))[0]!, {});
    t.log(summary(buggy));
    t.log(buggy.verdict.anomalies.map((a) => a.message).join('\n'));
    t.deepEqual(kinds(buggy), ['ack-after-eio']);
    const stops = buggy.history.events.filter((e) => e.type === 'stop');
    t.like(stops[1], { label: 'disarm', event: 'failed-sync', n: 1, ret: -5 });
    // The retried fdatasync succeeded: the engine acknowledged every op.
    t.is(buggy.verdict.stats.acked, buggy.verdict.stats.ops);

    const correct = await runTrial(guest(), plans(scenario(undefined))[0]!, {});
    t.log(summary(correct));
    t.deepEqual(kinds(correct), []);
    t.true(correct.history.events.some((e) => e.type === 'fail' && e.err === 'EIO'));
  },
);

test.serial(
  '[vm] an engine whose recover fails gets unrecoverable (its dump is not trusted), with its own reason',
  async (t) => {
    const r = await runTrial(
      guest(),
      plans(`${naive('recover-fails')}
workload: { ops: 20, pages: 8 }
fault: { kind: drop_writes, arm: { afterOp: 10 } }
`)[0]!,
      {},
    );
    t.log(summary(r));
    t.deepEqual(kinds(r), ['unrecoverable']);
    t.regex(r.verdict.anomalies[0]!.message, /store unusable \(planted recover-fails\)/);
    t.is(r.recoverError, 'store unusable (planted recover-fails)');
  },
);

test.serial(
  '[vm] a fault point at a syscall: drop armed before the 5th fdatasync loses nothing the correct engine acknowledged before it',
  async (t) => {
    const r = await runTrial(
      guest(),
      plans(`${naive(undefined)}
workload: { ops: 12, pages: 8 }
fault: { kind: drop_writes, arm: { at: fdatasync, occurrence: 5, when: before } }
`)[0]!,
      {},
    );
    t.log(summary(r));
    const stop = r.history.events.find((e) => e.type === 'stop');
    t.like(stop, { event: 'fdatasync', n: 5, exact: true });
    // Four writes were synced and acknowledged before the drop: they must all be there.
    t.deepEqual(kinds(r), []);
    t.is(r.verdict.stats.acked - r.verdict.stats.ackedWhileFaulty, 4);
  },
);
