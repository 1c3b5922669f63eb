import { HarnessError } from '../errors.ts';

/** Everything powercut creates in a target carries this prefix; nothing else is ever touched. */
export const resourcePrefix = 'powercut-';
/** Backing files live here (tmpfs in the embedded guest). */
export const backingRoot = '/var/tmp/powercut';

const runIdPattern = /^[a-z0-9]{1,16}$/;

export type ResourceNames = {
  table: string;
  mapperPath: string;
  backingDir: string;
  backingFile: string;
  /** The dm-log-writes log (log-writes trials only). */
  logFile: string;
  mountPoint: string;
  /** Where a replayed crash state is mounted (log-writes trials). */
  stateTable: string;
  stateMountPoint: string;
};

/** The names of one trial's resources, derived from a validated run id. */
export function resourceNames(runId: string): ResourceNames {
  if (!runIdPattern.test(runId))
    throw new HarnessError(`invalid run id ${JSON.stringify(runId)}: [a-z0-9]{1,16}`);
  const table = `${resourcePrefix}${runId}`;
  return {
    table,
    mapperPath: `/dev/mapper/${table}`,
    backingDir: `${backingRoot}/${runId}`,
    backingFile: `${backingRoot}/${runId}/backing.img`,
    logFile: `${backingRoot}/${runId}/log.img`,
    mountPoint: `/mnt/${table}`,
    stateTable: `${table}-state`,
    stateMountPoint: `/mnt/${table}-state`,
  };
}

export const isOurTable = (name: string): boolean =>
  name.startsWith(resourcePrefix) && /^[a-z0-9-]+$/.test(name);
export const isOurBackingFile = (path: string): boolean =>
  path.startsWith(`${backingRoot}/`) && !path.includes('..');
