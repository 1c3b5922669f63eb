import type { Target } from '../target/target.ts';
import { detachOwnLoopsScript, removeOwnDirScript, removeOwnTableScript } from './guards.ts';
import { resourceNames } from './names.ts';
import { ownership } from './ownership.ts';

/** Features to probe; random_*_corrupt and error_reads arrived after Linux 6.1. */
export const probedFeatures = [
  'drop_writes',
  'error_writes',
  'corrupt_bio_byte',
  'error_reads',
  'random_write_corrupt',
] as const;
const probeArgs: Record<(typeof probedFeatures)[number], string> = {
  drop_writes: '1 drop_writes',
  error_writes: '1 error_writes',
  corrupt_bio_byte: '5 corrupt_bio_byte 1 w 0 0',
  error_reads: '1 error_reads',
  random_write_corrupt: '2 random_write_corrupt 1000000000',
};

const cache = new WeakMap<Target, Promise<Set<string>>>();

/**
 * Which dm-flakey features this target's kernel accepts, found by loading a tiny table with
 * each one on a loop device of our own (cached per target).
 */
export function flakeyFeatures(target: Target): Promise<Set<string>> {
  let found = cache.get(target);
  if (!found) {
    found = probe(target);
    cache.set(target, found);
  }
  return found;
}

/** One round trip, under a run id of our own (so a concurrent sweep leaves it alone). */
async function probe(target: Target): Promise<Set<string>> {
  const names = resourceNames((await ownership(target)).newRunId());
  const table = names.table;
  const script = [
    `mkdir -p ${names.backingDir} && truncate -s 1M ${names.backingFile}`,
    `L=$(losetup --find --show ${names.backingFile})`,
    ...probedFeatures.map(
      (f) =>
        `if dmsetup create ${table} --table "0 2048 flakey $L 0 0 1 ${probeArgs[f]}" 2>/dev/null; then echo ${f}; dmsetup remove ${table}; fi`,
    ),
    removeOwnTableScript(table),
    detachOwnLoopsScript([names.backingFile]),
    removeOwnDirScript(names.backingDir),
  ].join('\n');
  const result = await target.exec(script, { check: false });
  return new Set(
    result.stdout.split('\n').filter((l) => (probedFeatures as readonly string[]).includes(l)),
  );
}
