import { existsSync } from 'node:fs';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrialResult } from '../model/trial-result.ts';
import { writeFileAtomic } from '../report/atomic-write.ts';
import { readTrialResult } from '../report/read-trial.ts';
import { RunStore } from '../report/run-store.ts';
import { InputError } from '../scenario/find.ts';
import { manifestName, type ShardManifest } from './shard-manifest.ts';

type Found = { key: string; scenario: string; dir?: string; error?: string; shard: string };

/**
 * Merges the stores of a sharded run into one: checks that the shards ran one plan (the same
 * digest and shard count, each shard once), that every planned trial is there exactly once
 * (naming missing shards and trials, refusing duplicates), then copies the trials and rebuilds
 * results.json, junit.xml and report.html per scenario, and a results.json over all of them
 * with a reproduce command per failure.
 */
export async function mergeShards(
  dirs: readonly string[],
  out: string,
  log: (line: string) => void,
): Promise<{ unexpected: number; harnessErrors: number; trials: number }> {
  const manifests: { dir: string; m: ShardManifest }[] = [];
  for (const dir of dirs) {
    const file = join(dir, manifestName);
    const text = await readFile(file, 'utf8').catch(() => {
      throw new InputError(`${file}: no shard manifest (was this store written by a --shard run?)`);
    });
    manifests.push({ dir, m: JSON.parse(text) as ShardManifest });
  }
  const first = manifests[0]!.m;
  for (const { dir, m } of manifests) {
    if (m.planDigest !== first.planDigest)
      throw new InputError(
        `${dir}: its plan (digest ${m.planDigest.slice(0, 12)}) is not ${dirs[0]}'s (${first.planDigest.slice(0, 12)}): not shards of one run (seed ${m.seed} vs ${first.seed}, version ${m.version} vs ${first.version})`,
      );
    if (m.shard.total !== first.shard.total)
      throw new InputError(
        `${dir}: shard ${m.shard.index}/${m.shard.total}, not of ${first.shard.total}`,
      );
  }
  const byIndex = new Map<number, string>();
  for (const { dir, m } of manifests) {
    const other = byIndex.get(m.shard.index);
    if (other)
      throw new InputError(
        `shard ${m.shard.index}/${m.shard.total} given twice: ${other} and ${dir}`,
      );
    byIndex.set(m.shard.index, dir);
  }
  const missingShards = Array.from({ length: first.shard.total }, (_, i) => i + 1).filter(
    (i) => !byIndex.has(i),
  );

  const found = new Map<string, Found>();
  const duplicates: string[] = [];
  for (const { dir, m } of manifests) {
    for (const f of await trialsIn(dir, m.runId, `${dir} (shard ${m.shard.index})`)) {
      const before = found.get(f.key);
      if (before) duplicates.push(`${f.key} (in ${before.shard} and ${f.shard})`);
      else found.set(f.key, f);
    }
  }
  if (duplicates.length > 0) throw new InputError(`trials merged twice: ${duplicates.join('; ')}`);
  const missing = first.planned.filter((k) => !found.has(k));
  if (missingShards.length > 0 || missing.length > 0)
    throw new InputError(
      [
        missingShards.length > 0
          ? `missing shard(s) ${missingShards.map((i) => `${i}/${first.shard.total}`).join(', ')}`
          : '',
        missing.length > 0
          ? `${missing.length} planned trial(s) not found: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`
          : '',
      ]
        .filter(Boolean)
        .join('; '),
    );

  // Copy and rebuild, scenario by scenario.
  const byScenario = new Map<string, Found[]>();
  for (const f of found.values())
    byScenario.set(f.scenario, [...(byScenario.get(f.scenario) ?? []), f]);
  let unexpected = 0;
  let harnessErrors = 0;
  const all: unknown[] = [];
  for (const [scenario, trials] of [...byScenario].sort(([a], [b]) => a.localeCompare(b))) {
    const store = new RunStore(out, scenario, first.runId);
    const results: TrialResult[] = [];
    const errors: { id: string; message: string }[] = [];
    for (const t of trials.sort((a, b) => a.key.localeCompare(b.key))) {
      const id = t.key.slice(scenario.length + 1);
      if (t.error !== undefined) {
        errors.push({ id, message: t.error });
        harnessErrors++;
        all.push({ key: t.key, error: t.error });
        continue;
      }
      await cp(t.dir!, store.trialDir(id), { recursive: true });
      const r = await readTrialResult(store.trialDir(id));
      results.push(r);
      if (!r.expectation.ok) unexpected++;
      all.push({
        key: t.key,
        asExpected: r.expectation.ok,
        reasons: r.expectation.reasons,
        ...(r.expectation.ok ? {} : { reproduce: `powercut replay ${store.trialDir(id)}` }),
      });
    }
    await store.writeReports(scenario, results, errors);
  }
  await writeFileAtomic(
    join(out, 'results.json'),
    `${JSON.stringify({ runId: first.runId, seed: first.seed, shards: first.shard.total, planDigest: first.planDigest, trials: all }, null, 2)}\n`,
  );
  log(
    `merged ${found.size} trials of ${first.shard.total} shards into ${out}: ${unexpected} not as expected, ${harnessErrors} harness errors`,
  );
  return { unexpected, harnessErrors, trials: found.size };
}

/** The trials a shard's store holds for its run: stored trial folders, and harness errors. */
async function trialsIn(dir: string, runId: string, shard: string): Promise<Found[]> {
  const found: Found[] = [];
  for (const scenario of (await readdir(dir, { withFileTypes: true })).filter((e) =>
    e.isDirectory(),
  )) {
    const runDir = join(dir, scenario.name, runId);
    if (!existsSync(runDir)) continue;
    for (const trial of (await readdir(runDir, { withFileTypes: true })).filter((e) =>
      e.isDirectory(),
    ))
      if (existsSync(join(runDir, trial.name, 'trial.json')))
        found.push({
          key: `${scenario.name}/${trial.name}`,
          scenario: scenario.name,
          dir: join(runDir, trial.name),
          shard,
        });
    const results = join(runDir, 'results.json');
    if (existsSync(results)) {
      const r = JSON.parse(await readFile(results, 'utf8')) as {
        errors?: { id: string; message: string }[];
      };
      for (const e of r.errors ?? [])
        if (!found.some((f) => f.key === `${scenario.name}/${e.id}`))
          found.push({
            key: `${scenario.name}/${e.id}`,
            scenario: scenario.name,
            error: e.message,
            shard,
          });
    }
  }
  return found;
}
