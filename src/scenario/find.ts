import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Bad input that is not inside a scenario file (a missing path): printed as one line. */
export class InputError extends Error {
  override name = 'InputError';
}

/** Expands files and directories into the scenario files they name (`*.yaml`/`*.yml`, sorted). */
export async function findScenarioFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info) throw new InputError(`${path}: no such file or directory`);
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
      files.push(...names.map((n) => join(path, n)));
    } else {
      files.push(path);
    }
  }
  return files;
}
