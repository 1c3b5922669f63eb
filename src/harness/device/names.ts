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
  mountPoint: string;
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
    mountPoint: `/mnt/${table}`,
  };
}

export const isOurTable = (name: string): boolean =>
  name.startsWith(resourcePrefix) && /^[a-z0-9-]+$/.test(name);
export const isOurBackingFile = (path: string): boolean =>
  path.startsWith(`${backingRoot}/`) && !path.includes('..');
