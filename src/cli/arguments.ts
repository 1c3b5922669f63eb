import { statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { findScenarioFiles, InputError } from '../scenario/find.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { TrialPlan } from '../model/trial-plan.ts';
import { uploadedPath } from '../model/uploaded-path.ts';

// What the commands of main.ts take, from command-line text: option values checked (a bad one
// is bad input, exit 2), scenario files loaded, a user engine's build run. Heavy modules are
// imported when a command runs, so `powercut --help` loads none of them.

/** A user engine's build runs and produces its upload; an uploaded directory needs a command. */
export async function checkUserEngines(plans: readonly TrialPlan[]): Promise<void> {
  const seen = new Set<string>();
  for (const { engine } of plans) {
    if (engine.kind !== 'external' || seen.has(`${engine.build}\0${engine.upload}`)) continue;
    seen.add(`${engine.build}\0${engine.upload}`);
    const { buildUserEngine } = await import('../harness/trial/guest-engine.ts');
    const local = await buildUserEngine(engine);
    if (local && statSync(local).isDirectory() && engine.command === uploadedPath(engine.upload!))
      throw new Error(
        `engine.upload: ${engine.upload} is a directory: say which program in it to run with engine.command (e.g. ${uploadedPath(engine.upload!)}/run)`,
      );
  }
}

export function describePlan(p: TrialPlan): string {
  const arm =
    p.fault.kind === 'log-writes'
      ? `explore ${p.fault.explore ?? 'flush'}`
      : p.fault.schedule
        ? `schedule ${p.fault.schedule.up}s/${p.fault.schedule.down}s`
        : JSON.stringify(p.fault.arm ?? 'at crash');
  return `${p.filesystem.type} ${p.engine.kind === 'builtin' ? p.engine.mode : p.engine.name} ${p.fault.kind} ${arm} ops=${p.workload.ops} expect=${JSON.stringify(p.expect)}`;
}

export async function loadAll(paths: string[]): Promise<LoadedScenario[]> {
  const loaded: LoadedScenario[] = [];
  const { loadScenarioFile } = await import('../scenario/load.ts');
  for (const file of await findScenarioFiles(paths)) loaded.push(await loadScenarioFile(file));
  return loaded;
}

export async function shardOf(text: string): Promise<import('./shard.ts').Shard> {
  const { parseShard } = await import('./shard.ts');
  return parseShard(text);
}

export async function weightsFrom(file: string): Promise<Map<string, number>> {
  const { readFile } = await import('node:fs/promises');
  const { weightsFromResults } = await import('./shard.ts');
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new InputError(`--shard-weights: ${file}: ${error.message}`);
  });
  try {
    return weightsFromResults(JSON.parse(text));
  } catch (error) {
    throw new InputError(`--shard-weights: ${file}: ${(error as Error).message}`);
  }
}

/** A run id names a folder: no path separators, no dot-names. */
export function parseRunId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(value))
    throw new InvalidArgumentError('letters, digits, . _ - (a folder name)');
  return value;
}

export function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

export function parsePositive(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${what} must be a positive integer`);
  return n;
}
