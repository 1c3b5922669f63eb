import type { EngineModeName } from '../engine/engine.ts';
import type { LoadedScenario } from './load.ts';
import type { Scenario } from './schema.ts';
import type { EngineSpec, TrialPlan } from './trial-plan.ts';
import { engineLabel } from './trial-plan.ts';
import { uploadedPath } from './uploaded-path.ts';

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
  const faults = s.matrix?.fault ?? [s.fault.kind];
  const plans: TrialPlan[] = [];
  for (const fs of filesystems) {
    for (const mode of modes) {
      for (const kind of faults) {
        const engine = engineSpec(s, mode);
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
            },
          });
        }
      }
    }
  }
  return plans;
}

function engineSpec(s: Scenario, modeOverride: EngineModeName | undefined): EngineSpec {
  const e = s.engine;
  if (!('mode' in e)) {
    return {
      kind: 'external',
      command: e.command ?? uploadedPath(e.upload!),
      ...(e.upload ? { upload: e.upload } : {}),
      ...(e.build ? { build: e.build } : {}),
      transactional: e.transactional,
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
