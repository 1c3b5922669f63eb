import test from 'ava';
import { runTrial, type TrialResult } from '../../../src/harness/trial/run-trial.ts';
import { guestWithEngines, plans } from './vm-helpers.ts';

// store: directory. The engine owns a directory and replaces its files by rename, the way
// applications do; faults hit file data and directory entries alike. A missing directory fsync
// after a rename is among the most common real durability bugs.
const guest = guestWithEngines(test);

const kinds = (r: TrialResult): string[] =>
  [...new Set(r.verdict.anomalies.map((a) => a.kind))].sort();

const scenario = (bug: string | undefined): string => `
engine:
  build: make -s -C test/fixtures/engines
  upload: test/fixtures/engines/build/naive-engine
  store: directory
  ${bug ? `env: { NAIVE_BUG: ${bug} }` : ''}
filesystem: { type: ext4 }
workload: { ops: 20, pages: 8 }
fault: { kind: drop_writes, arm: { afterOp: 10 } }
`;

test.serial(
  '[vm] a directory store: an engine that renames over its files without fsyncing the directory loses acknowledged data on ext4; with the directory fsync it does not',
  async (t) => {
    const buggy = await runTrial(guest(), plans(scenario('no-dir-fsync'))[0]!, {});
    t.log(buggy.verdict.anomalies.map((a) => a.message).join('\n'));
    t.is(buggy.plan.id, 'ext4-naive-engine-drop_writes-1', 'the engine is named in the trial id');
    t.true(kinds(buggy).includes('lost-ack'));
    const correct = await runTrial(guest(), plans(scenario(undefined))[0]!, {});
    t.deepEqual(kinds(correct), []);
    t.true(correct.verdict.stats.recoveredValues > 0);
  },
);
