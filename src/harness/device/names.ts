import { HarnessError } from '../errors.ts';

/** Everything powercut creates in a target carries this prefix; nothing else is ever touched. */
export const resourcePrefix = 'powercut-';
/** Backing files live here (tmpfs in the embedded guest), one directory per trial. */
export const backingRoot = '/var/tmp/powercut';
/** Owner locks: `<owner>.lock`, held by a process that lives exactly as long as its run. */
export const ownersDir = `${backingRoot}/owners`;

/** An owner id is fixed-length so that every run id names its owner: `<owner><trial seq>`. */
export const ownerIdLength = 8;
const ownerIdPattern = new RegExp(`^[a-z0-9]{${ownerIdLength}}$`);
const runIdPattern = new RegExp(`^[a-z0-9]{${ownerIdLength}}[a-z0-9]{1,8}$`);

export const isOwnerId = (id: string): boolean => ownerIdPattern.test(id);
export const isRunId = (id: string): boolean => runIdPattern.test(id);
/** The owner of a run id, or undefined when `id` is not one (a foreign or legacy name). */
export const ownerOfRun = (id: string): string | undefined =>
  isRunId(id) ? id.slice(0, ownerIdLength) : undefined;

export type ResourceNames = {
  runId: string;
  table: string;
  mapperPath: string;
  backingDir: string;
  backingFile: string;
  /** The dm-log-writes log (log-writes trials only). */
  logFile: string;
  /** The pid and start time of the engine's tracer, for a later sweep to prove it is ours. */
  pidFile: string;
  mountPoint: string;
  /** Where a replayed crash state is mounted (log-writes trials). */
  stateTable: string;
  stateMountPoint: string;
};

/** The names of one trial's resources, derived from a validated run id. */
export function resourceNames(runId: string): ResourceNames {
  if (!isRunId(runId))
    throw new HarnessError(
      `invalid run id ${JSON.stringify(runId)}: an ${ownerIdLength}-character owner id, then 1-8 of [a-z0-9]`,
    );
  const table = `${resourcePrefix}${runId}`;
  return {
    runId,
    table,
    mapperPath: `/dev/mapper/${table}`,
    backingDir: `${backingRoot}/${runId}`,
    backingFile: `${backingRoot}/${runId}/backing.img`,
    logFile: `${backingRoot}/${runId}/log.img`,
    pidFile: `${backingRoot}/${runId}/engine.pid`,
    mountPoint: `/mnt/${table}`,
    stateTable: `${table}-state`,
    stateMountPoint: `/mnt/${table}-state`,
  };
}

/**
 * The run id a resource name belongs to: a dm table or mount point (`powercut-<run>` or
 * `powercut-<run>-state`), or a file under the backing root. Undefined for anything else.
 */
export function runOfTable(name: string): string | undefined {
  const m = /^powercut-([a-z0-9]+)(?:-state)?$/.exec(name);
  return m && isRunId(m[1]!) ? m[1] : undefined;
}
export const runOfMountPoint = (path: string): string | undefined =>
  path.startsWith('/mnt/') ? runOfTable(path.slice('/mnt/'.length)) : undefined;
export function runOfBackingFile(path: string): string | undefined {
  const m = /^\/var\/tmp\/powercut\/([a-z0-9]+)\/[a-z0-9._-]+$/.exec(path);
  return m && isRunId(m[1]!) ? m[1] : undefined;
}

export const isOurTable = (name: string): boolean => runOfTable(name) !== undefined;
export const isOurBackingFile = (path: string): boolean => runOfBackingFile(path) !== undefined;
