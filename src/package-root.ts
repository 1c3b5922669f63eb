import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined | null;

/**
 * The powercut package's directory (where its package.json is), found by walking up from this
 * module: the same from the sources, from dist/ and from a bundled chunk, whatever their depth.
 * Undefined where there is none (the engine bundle inside a target).
 */
export function packageRoot(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'powercut') {
          cached = dir;
          return dir;
        }
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) {
      cached = null;
      return undefined;
    }
    dir = up;
  }
}

/** packageRoot(), or an error saying where powercut's own files were looked for. */
export function requirePackageRoot(): string {
  const root = packageRoot();
  if (!root)
    throw new Error(
      `powercut's package directory not found above ${fileURLToPath(import.meta.url)}`,
    );
  return root;
}
