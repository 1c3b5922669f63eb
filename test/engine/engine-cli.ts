import type test from 'ava';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** `node` arguments that run the built-in engines' CLI from the sources. */
export const engineCliArgs = ['--import', 'tsx', 'src/engine/cli-entry.ts'] as const;

/** The engine CLI run once, with `input` on its stdin; never throws on a non-zero exit. */
export const runEngineCli = (args: string[], input?: string) =>
  execa('node', [...engineCliArgs, ...args], {
    reject: false,
    ...(input !== undefined ? { input } : {}),
  });

/** A scratch directory under .cache/ for one test file, removed after its tests. */
export function scratchDir(t: typeof test, prefix: string): string {
  mkdirSync('.cache', { recursive: true });
  const dir = mkdtempSync(join('.cache', `${prefix}-`));
  t.after.always(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
