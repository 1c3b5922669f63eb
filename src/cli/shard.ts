import { createHash } from 'node:crypto';
import { InputError } from '../scenario/find.ts';
import type { TrialPlan } from '../model/trial-plan.ts';

/** One shard of a run: 1-based index of total. */
export type Shard = { index: number; total: number };

/**
 * Where a CI system puts a parallel job's index and count, and whether it counts from 0 or 1
 * (the variables ava's ci-parallel-vars reads, plus Kubernetes Indexed Jobs, whose total is
 * not in the environment: POWERCUT_SHARD_TOTAL).
 */
const ciVariables: { index: string; total: string; base: 0 | 1; name: string }[] = [
  { name: 'powercut', index: 'POWERCUT_SHARD_INDEX', total: 'POWERCUT_SHARD_TOTAL', base: 1 },
  { name: 'GitLab/Travis/Knapsack', index: 'CI_NODE_INDEX', total: 'CI_NODE_TOTAL', base: 1 },
  { name: 'CircleCI', index: 'CIRCLE_NODE_INDEX', total: 'CIRCLE_NODE_TOTAL', base: 0 },
  {
    name: 'Bitbucket',
    index: 'BITBUCKET_PARALLEL_STEP',
    total: 'BITBUCKET_PARALLEL_STEP_COUNT',
    base: 0,
  },
  {
    name: 'Buildkite',
    index: 'BUILDKITE_PARALLEL_JOB',
    total: 'BUILDKITE_PARALLEL_JOB_COUNT',
    base: 0,
  },
  { name: 'Semaphore', index: 'SEMAPHORE_CURRENT_JOB', total: 'SEMAPHORE_JOB_COUNT', base: 1 },
  { name: 'Kubernetes', index: 'JOB_COMPLETION_INDEX', total: 'POWERCUT_SHARD_TOTAL', base: 0 },
];

/** `--shard i/n` (1-based), or `--shard env` (the CI system's variables). */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  if (text === 'env') {
    for (const v of ciVariables) {
      const index = env[v.index];
      const total = env[v.total];
      if (index === undefined || total === undefined) continue;
      return checked(
        Number(index) + (1 - v.base),
        Number(total),
        `${v.index}/${v.total} (${v.name})`,
      );
    }
    throw new InputError(
      `--shard env: none of ${ciVariables.map((v) => `${v.index}+${v.total}`).join(', ')} is set`,
    );
  }
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new InputError(`--shard: ${JSON.stringify(text)} is not i/n (1-based) or env`);
  return checked(Number(m[1]), Number(m[2]), '--shard');
}

function checked(index: number, total: number, from: string): Shard {
  if (
    !Number.isInteger(index) ||
    !Number.isInteger(total) ||
    total < 1 ||
    index < 1 ||
    index > total
  )
    throw new InputError(`${from}: shard ${index} of ${total} is not a shard (1 ≤ i ≤ n)`);
  return { index, total };
}

/** A planned trial's name across scenarios: `<scenario>/<trial id>`. */
export const trialKey = (p: Pick<TrialPlan, 'scenario' | 'id'>): string => `${p.scenario}/${p.id}`;

/**
 * Deals trials to shards, deterministically: sorted by key, then round-robin; with weights
 * (measured seconds per key), longest first to the least loaded shard (ties to the lower
 * index), so every shard gets about the same work. Returns each shard's keys.
 */
export function dealTrials(
  keys: readonly string[],
  total: number,
  weights?: ReadonlyMap<string, number>,
): string[][] {
  const sorted = [...new Set(keys)].sort();
  const shards: string[][] = Array.from({ length: total }, () => []);
  if (!weights || weights.size === 0) {
    sorted.forEach((k, i) => shards[i % total]!.push(k));
    return shards;
  }
  // Unmeasured trials count as the mean of the measured ones.
  const known = sorted.map((k) => weights.get(k)).filter((w): w is number => w !== undefined);
  const mean = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1;
  const load = new Array<number>(total).fill(0);
  const byWeight = sorted
    .map((k) => ({ k, w: weights.get(k) ?? mean }))
    .sort((a, b) => b.w - a.w || a.k.localeCompare(b.k));
  for (const { k, w } of byWeight) {
    const i = load.indexOf(Math.min(...load));
    load[i]! += w;
    shards[i]!.push(k);
  }
  return shards.map((s) => s.sort());
}

/**
 * A digest of everything planned (every trial's key, seed and plan, in key order): shards of one
 * run must agree on it, or they did not run the same plan.
 */
export function planDigest(plans: readonly TrialPlan[]): string {
  const hash = createHash('sha256');
  for (const p of [...plans].sort((a, b) => trialKey(a).localeCompare(trialKey(b))))
    hash.update(`${trialKey(p)}\n${JSON.stringify(p, machineLocal)}\n`);
  return hash.digest('hex');
}

/** Paths that differ between machines running the same plan: not part of the plan's identity. */
const machineLocal = (key: string, value: unknown): unknown =>
  key === 'file' || key === 'baseDir' ? undefined : value;

/** Measured seconds per trial key from a results.json (per scenario, or merged). */
export function weightsFromResults(json: unknown): Map<string, number> {
  const weights = new Map<string, number>();
  const r = json as {
    scenario?: string;
    trials?: { key?: string; id?: string; seconds?: number }[];
  };
  for (const t of r.trials ?? []) {
    const key = t.key ?? (r.scenario && t.id ? `${r.scenario}/${t.id}` : undefined);
    if (key && typeof t.seconds === 'number') weights.set(key, t.seconds);
  }
  return weights;
}
