import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrialResult } from '../model/trial-result.ts';

/**
 * A stored trial read back (the files RunStore.writeTrial wrote), for reports rebuilt from
 * stored trials: `powercut merge`.
 */
export async function readTrialResult(dir: string): Promise<TrialResult> {
  const text = (name: string): Promise<string> => readFile(join(dir, name), 'utf8');
  const lines = async (name: string): Promise<unknown[]> =>
    (await text(name))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown);
  const verdictFile = JSON.parse(await text('verdict.json')) as Record<string, unknown>;
  const { expectation, recoverError, fsck, phaseMs, ...verdict } = verdictFile;
  const ops = (await lines('workload.jsonl')) as TrialResult['ops'];
  return {
    plan: JSON.parse(await text('trial.json')) as TrialResult['plan'],
    ops,
    history: { ops, events: (await lines('history.jsonl')) as TrialResult['history']['events'] },
    dump: JSON.parse(await text('dump.json')) as TrialResult['dump'],
    verdict: verdict as TrialResult['verdict'],
    expectation: expectation as TrialResult['expectation'],
    ...(typeof recoverError === 'string' ? { recoverError } : {}),
    ...(fsck ? { fsck: fsck as NonNullable<TrialResult['fsck']> } : {}),
    phaseMs: phaseMs as TrialResult['phaseMs'],
    ...(existsSync(join(dir, 'exploration.json'))
      ? { exploration: JSON.parse(await text('exploration.json')) as TrialResult['exploration'] }
      : {}),
    engineStderr: existsSync(join(dir, 'engine-stderr.log')) ? await text('engine-stderr.log') : '',
    log: (await text('harness.log')).split('\n').filter((l) => l !== ''),
  };
}
