import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../report/atomic-write.ts';
import { packageRoot } from '../package-root.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
import { planDigest, trialKey, type Shard } from './shard.ts';

/**
 * `shard.json` at the root of a shard's store: what it ran and what the whole run planned, so
 * `powercut merge` can check that the shards belong together and that every planned trial ran
 * exactly once.
 */
export type ShardManifest = {
  version: string;
  gitSha: string | null;
  runId: string;
  seed: number;
  shard: Shard;
  /** sha256 over every planned trial (key, seed, plan): equal in every shard of one run. */
  planDigest: string;
  /** Every trial of the run, `<scenario>/<id>`, and the ones this shard ran. */
  planned: string[];
  assigned: string[];
  target: { kind: string; kernel: string };
};

export const manifestName = 'shard.json';

export async function writeShardManifest(
  storeRoot: string,
  o: {
    runId: string;
    seed: number;
    shard: Shard;
    plans: readonly TrialPlan[];
    assigned: string[];
    target: { kind: string; kernel: string };
  },
): Promise<void> {
  const root = packageRoot();
  const version = root
    ? (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string })
        .version
    : 'unknown';
  const git = root
    ? await execa('git', ['rev-parse', 'HEAD'], { cwd: root, reject: false }).catch(() => null)
    : null;
  const manifest: ShardManifest = {
    version,
    gitSha: git?.exitCode === 0 ? String(git.stdout).trim() : null,
    runId: o.runId,
    seed: o.seed,
    shard: o.shard,
    planDigest: planDigest(o.plans),
    planned: o.plans.map(trialKey).sort(),
    assigned: o.assigned,
    target: o.target,
  };
  await writeFileAtomic(join(storeRoot, manifestName), `${JSON.stringify(manifest, null, 2)}\n`);
}
