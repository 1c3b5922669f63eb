import { basename } from 'node:path';

/** Where a scenario's `engine.upload` file lands inside the target. */
export const uploadedPath = (localPath: string): string =>
  `/opt/powercut/user/${basename(localPath)}`;
