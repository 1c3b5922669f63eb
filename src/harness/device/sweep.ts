import type { Target } from '../target/target.ts';
import {
  detachLoopIfBackedByScript,
  killFromPidFileScript,
  removeOwnDirScript,
  removeOwnTableScript,
  unmountOwnScript,
} from './guards.ts';
import { parseLoopList } from './loop-check.ts';
import {
  backingRoot,
  isOwnerId,
  isRunId,
  ownerOfRun,
  ownersDir,
  resourceNames,
  runOfBackingFile,
  runOfMountPoint,
  runOfTable,
} from './names.ts';
import { lockFileOf } from './ownership.ts';

/** What the target holds of powercut's, read in one round trip. */
export type SweepListing = {
  mountPoints: string[];
  tables: string[];
  loops: Map<string, string>;
  runDirs: string[];
  mountDirs: string[];
  /** Owner id → whether its lock is held (a live run) or free (its run is gone). */
  owners: Map<string, 'live' | 'stale'>;
};

export type SweepAction = { what: string; run: string; script: string };
export type SweepPlan = { actions: SweepAction[]; liveRuns: string[] };

const section = (name: string): string => `echo '--- ${name}'`;

/** The listing script: mount table, dm tables, loop devices, run directories, owner locks. */
export const listingScript = [
  section('mounts'),
  "awk '{print $5}' /proc/self/mountinfo",
  section('tables'),
  'dmsetup ls 2>/dev/null | cut -f1',
  section('loops'),
  'losetup -J -l 2>/dev/null',
  section('dirs'),
  `ls -1 ${backingRoot} 2>/dev/null`,
  section('mountdirs'),
  "ls -1 /mnt 2>/dev/null | grep '^powercut-'",
  section('owners'),
  // flock -n succeeds only when nobody holds the lock: the owner's run has ended.
  `for f in ${ownersDir}/*.lock; do [ -e "$f" ] || continue; o=$(basename "$f" .lock); if flock -n -x "$f" true; then echo "stale $o"; else echo "live $o"; fi; done`,
  'true',
].join('\n');

export function parseListing(stdout: string): SweepListing {
  const parts = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^--- (\w+)$/.exec(line);
    if (m) parts.set(m[1]!, (current = []));
    else if (current && line.trim() !== '') current.push(line.trim());
  }
  const get = (k: string): string[] => parts.get(k) ?? [];
  const owners = new Map<string, 'live' | 'stale'>();
  for (const line of get('owners')) {
    const [state, id] = line.split(' ');
    if ((state === 'live' || state === 'stale') && id && isOwnerId(id)) owners.set(id, state);
  }
  return {
    mountPoints: get('mounts'),
    tables: get('tables'),
    loops: parseLoopList(get('loops').join('\n')),
    runDirs: get('dirs'),
    mountDirs: get('mountdirs').map((d) => `/mnt/${d}`),
    owners,
  };
}

/**
 * Decides what a sweep removes: only resources named by a run id whose owner lock is free
 * (stale) or gone. A run whose owner holds its lock is live and left alone, whatever it holds;
 * so is this process's own owner (`self`). Names that are not powercut run ids are never
 * touched. Pure: the unit tests pin it down.
 */
export function planSweep(listing: SweepListing, self?: string): SweepPlan {
  const liveRuns = new Set<string>();
  const isStale = (run: string | undefined): run is string => {
    if (!run) return false;
    const owner = ownerOfRun(run)!;
    if (owner === self || listing.owners.get(owner) === 'live') {
      liveRuns.add(run);
      return false;
    }
    return true;
  };
  const actions: SweepAction[] = [];
  const staleRuns = new Set<string>();
  const add = (run: string, what: string, script: string): void => {
    staleRuns.add(run);
    actions.push({ what, run, script });
  };
  // Order: processes, mounts, tables, loop devices, directories, then the owner locks.
  const dirRuns = listing.runDirs.filter(isRunId).filter(isStale);
  for (const run of dirRuns)
    add(run, `engine of ${run}`, killFromPidFileScript(resourceNames(run).pidFile));
  for (const mp of listing.mountPoints) {
    const run = runOfMountPoint(mp);
    if (isStale(run)) add(run, `mount ${mp}`, unmountOwnScript(mp));
  }
  for (const table of listing.tables) {
    const run = runOfTable(table);
    if (isStale(run)) add(run, `table ${table}`, removeOwnTableScript(table));
  }
  for (const [device, backing] of listing.loops) {
    const run = runOfBackingFile(backing);
    if (isStale(run)) add(run, `loop ${device}`, detachLoopIfBackedByScript(device, backing));
  }
  for (const run of dirRuns)
    add(
      run,
      `dir ${resourceNames(run).backingDir}`,
      removeOwnDirScript(resourceNames(run).backingDir),
    );
  for (const dir of listing.mountDirs) {
    const run = runOfMountPoint(dir);
    if (isStale(run) && !listing.mountPoints.includes(dir))
      add(run, `dir ${dir}`, unmountOwnScript(dir));
  }
  for (const [owner, state] of listing.owners) {
    if (state === 'stale' && owner !== self)
      actions.push({
        what: `owner lock ${owner}`,
        run: owner,
        script: `flock -n -x ${lockFileOf(owner)} rm -f ${lockFileOf(owner)}; true`,
      });
  }
  return { actions, liveRuns: [...liveRuns].sort() };
}

/**
 * Removes what interrupted earlier runs left behind, and only that: resources of runs whose
 * owner is no longer alive (see ownership.ts). Returns what it removed; a removal that failed
 * is reported as `failed: ...`. Two round trips.
 */
export async function sweepStale(
  target: Target,
  options: { self?: string } = {},
): Promise<{ removed: string[]; failed: string[]; liveRuns: string[] }> {
  const listing = parseListing((await target.exec(listingScript)).stdout);
  const plan = planSweep(listing, options.self);
  if (plan.actions.length === 0) return { removed: [], failed: [], liveRuns: plan.liveRuns };
  // Each action in a subshell: one failing does not stop the others, and each reports itself.
  const script = plan.actions
    .map(
      (a, i) =>
        `if e=$( (\n${a.script}\n) 2>&1 >/dev/null); then echo "ok ${i}"; else echo "failed ${i} $(printf %s "$e" | head -c 300 | tr '\\n' ' ')"; fi`,
    )
    .join('\n');
  const result = await target.exec(script, { check: false, timeoutMs: 300_000 });
  const removed: string[] = [];
  const failed: string[] = [];
  for (const line of result.stdout.split('\n')) {
    const m = /^(ok|failed) (\d+) ?(.*)$/.exec(line);
    const action = m ? plan.actions[Number(m[2])] : undefined;
    if (!m || !action) continue;
    if (m[1] === 'ok') removed.push(action.what);
    else failed.push(`${action.what}: ${m[3]?.trim() || 'failed'}`);
  }
  return { removed, failed, liveRuns: plan.liveRuns };
}

/** Log lines for a sweep: what it removed, what it could not, which live runs it left alone. */
export function describeSweep(s: {
  removed: string[];
  failed: string[];
  liveRuns: string[];
}): string[] {
  return [
    ...(s.removed.length > 0 ? [`swept stale resources: ${s.removed.join(', ')}`] : []),
    ...(s.failed.length > 0 ? [`sweep could not remove: ${s.failed.join('; ')}`] : []),
    ...(s.liveRuns.length > 0
      ? [`left alone (live runs of other owners): ${s.liveRuns.join(', ')}`]
      : []),
  ];
}
