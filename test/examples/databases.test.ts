import test from 'ava';
import { join } from 'node:path';
import { runTrial, type TrialResult } from '../../src/harness/trial/run-trial.ts';
import { loadScenarioFile } from '../../src/scenario/load.ts';
import { expandScenario } from '../../src/scenario/expand.ts';
import { meetsExpectation } from '../../src/oracles/expectation.ts';
import { guestWithEngines } from '../harness/trial/vm-helpers.ts';

// Real databases that know nothing of powercut, through the shipped scenarios (the same files
// `npm run crash` runs): one configuration that must stay durable and one that must lose
// acknowledged commits, for SQLite and for LMDB, on ext4.
const guest = guestWithEngines(test);

const kinds = (r: TrialResult): string[] =>
  [...new Set(r.verdict.anomalies.map((a) => a.kind))].sort();

for (const [file, durable, lossy] of [
  ['sqlite.yaml', 'sqlite-wal-full', 'sqlite-sync-off'],
  ['lmdb.yaml', 'lmdb-default', 'lmdb-nometasync'],
] as const) {
  test.serial(
    `[vm] scenarios/${file}: ${durable} loses nothing acknowledged, ${lossy} loses acknowledged commits, as documented`,
    async (t) => {
      const loaded = await loadScenarioFile(join('scenarios', file));
      const plans = expandScenario(loaded, { baseSeed: 3 }).filter(
        (p) => p.filesystem.type === 'ext4',
      );
      for (const [name, loses] of [
        [durable, false],
        [lossy, true],
      ] as const) {
        const plan = plans.find((p) => p.engine.kind === 'external' && p.engine.name === name)!;
        const r = await runTrial(guest(), plan, {});
        t.log(
          `${plan.id}: acked ${r.verdict.stats.acked}/${r.verdict.stats.ops}, [${kinds(r)}] ${r.verdict.anomalies[0]?.message ?? ''}`,
        );
        t.is(kinds(r).includes('lost-ack'), loses, name);
        t.true(meetsExpectation(r.verdict, plan.expect).ok, `${name}: as its scenario expects`);
        t.is(r.recoverError, undefined);
      }
    },
  );
}

test.serial(
  '[vm] slotted pages under torn writes (tear:2): unprotected loses acknowledged records of other keys, the doublewrite area loses nothing',
  async (t) => {
    for (const [file, loses] of [
      ['slotted-torn-page.yaml', true],
      ['slotted-doublewrite.yaml', false],
    ] as const) {
      const plan = expandScenario(await loadScenarioFile(join('scenarios', file)), {
        baseSeed: 3,
      })[0]!;
      const r = await runTrial(guest(), { ...plan, fault: { ...plan.fault, maxStates: 40 } }, {});
      const e = r.exploration!;
      t.log(
        `${file}: ${e.checked} states (${JSON.stringify(e.byBoundary)}), ${e.failing.length} failing`,
      );
      t.true((e.byBoundary.tear ?? 0) > 0, 'torn states were checked');
      // Only the store's writes are torn: a torn ext4 superblock or journal block once made a
      // state that no longer mounted (a harness error, the filesystem tested, not the engine).
      t.true(
        r.log.some((line) =>
          /^tear:2 tears the store's writes only \(\d+ extent\(s\)\)$/.test(line),
        ),
        r.log.join('\n'),
      );
      t.true(e.replayMatchesDevice);
      t.is(kinds(r).includes('lost-ack'), loses, file);
      t.true(meetsExpectation(r.verdict, plan.expect).ok, `${file}: as its scenario expects`);
      if (loses) t.regex(r.verdict.anomalies[0]!.message, /collateral loss/);
    }
  },
);
