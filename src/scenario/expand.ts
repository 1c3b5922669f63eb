import type { EngineModeName } from '../engine/engine.ts';
import type { LoadedScenario } from './load.ts';
import type { Scenario } from './schema.ts';
import type { EngineSpec, TrialPlan } from '../model/trial-plan.ts';
import { engineLabel } from '../model/trial-plan.ts';
import { uploadedPath } from '../model/uploaded-path.ts';
import { basename, dirname, resolve } from 'node:path';

/**
 * Expands a scenario's matrix (fs × mode × fault) and `trials` into concrete trial plans.
 * Trial n of a combination uses seed `baseSeed + n`, so a seed and a scenario reproduce a trial.
 * @example expandScenario(loaded, { baseSeed: 42 }).map((t) => t.id) // ['ext4-fsync-drop_writes-1']
 */
export function expandScenario(loaded: LoadedScenario, options: { baseSeed: number }): TrialPlan[] {
  const s = loaded.scenario;
  const baseSeed = s.workload.seed ?? options.baseSeed;
  const filesystems = s.matrix?.fs ?? [s.filesystem.type];
  const modes: (EngineModeName | undefined)[] = s.matrix?.mode ?? [undefined];
  const variants: (EngineVariant | undefined)[] = s.matrix?.engine ?? [undefined];
  const baseDir = resolve(dirname(loaded.file));
  const faults = s.matrix?.fault ?? [s.fault.kind];
  const plans: TrialPlan[] = [];
  for (const fs of filesystems) {
    for (const mode of modes) {
      for (const variant of variants) {
        for (const kind of faults) {
          const engine = engineSpec(s, mode, variant, baseDir);
          for (let n = 1; n <= s.trials; n++) {
            plans.push({
              scenario: loaded.name,
              file: loaded.file,
              id: `${fs}-${engineLabel(engine)}-${kind}-${n}`.replace(/[^a-z0-9+._-]/gi, '_'),
              seed: baseSeed + n - 1,
              target: s.target,
              device: s.device,
              filesystem: {
                type: fs,
                ...(s.filesystem.mountOptions ? { mountOptions: s.filesystem.mountOptions } : {}),
              },
              engine,
              workload: s.workload,
              fault: {
                ...s.fault,
                kind,
                ...(kind === 'corrupt_bio_byte'
                  ? { corrupt: corruptionFor(s, baseSeed + n - 1) }
                  : {}),
              },
              expect: {
                ...s.expect,
                ...(engine.kind === 'builtin' ? s.expectByMode?.[engine.mode] : {}),
                ...variant?.expect,
              },
            });
          }
        }
      }
    }
  }
  return plans;
}

type EngineVariant = NonNullable<NonNullable<Scenario['matrix']>['engine']>[number];

function engineSpec(
  s: Scenario,
  modeOverride: EngineModeName | undefined,
  variant: EngineVariant | undefined,
  baseDir: string,
): EngineSpec {
  const e = s.engine;
  if (!('mode' in e)) {
    const command = variant?.command ?? e.command ?? uploadedPath(e.upload!);
    return {
      kind: 'external',
      name: variant?.name ?? e.name ?? defaultEngineName(command),
      command,
      ...(e.upload ? { upload: e.upload } : {}),
      ...(e.build ? { build: e.build } : {}),
      baseDir,
      env: { ...e.env, ...variant?.env },
      args: variant?.args ?? e.args,
      store: e.store,
      transactional: variant?.transactional ?? e.transactional,
      direct: e.direct,
      pageSize: e.pageSize,
      writers: e.writers,
      supports: e.supports,
    };
  }
  return {
    kind: 'builtin',
    mode: modeOverride ?? e.mode,
    direct: e.direct,
    pageSize: e.pageSize,
    writers: e.writers,
    batchWindowUs: e.batchWindowUs,
    batchMax: e.batchMax,
    ...(e.bug ? { bug: e.bug } : {}),
    ...(e.protection ? { protection: e.protection } : {}),
  };
}

/**
 * The corrupted byte of a trial: the scenario's, or one drawn from the trial's seed in
 * 1..64 + valueSize (headers and values, whatever the engine's layout). Stored in the plan, so
 * a replay corrupts the same byte.
 */
export function corruptionFor(s: Scenario, seed: number): { byte: number; value: number } {
  const value = s.fault.corrupt?.value ?? 0;
  if (s.fault.corrupt?.byte !== undefined) return { byte: s.fault.corrupt.byte, value };
  let x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return { byte: 1 + ((x ^ (x >>> 16)) % (64 + s.workload.valueSize)), value };
}

/** An engine's default name: its command's file name (`/opt/powercut/user/sqlite-engine` → `sqlite-engine`). */
export function defaultEngineName(command: string): string {
  const program = command
    .trim()
    .split(/\s+/)
    .find((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  const name = basename(program ?? 'engine').replace(/[^a-z0-9._-]/gi, '_');
  return name === '' ? 'engine' : name.slice(0, 40);
}
