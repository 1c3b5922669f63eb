import { engineTraits } from '../engine/engine.ts';
import type { EngineModeName, PlantedBug, Protection } from '../engine/engine.ts';
import type { AnomalyKind } from './verdict.ts';
import type { EngineExtension, Scenario } from '../scenario/schema.ts';

export type FilesystemType = Scenario['filesystem']['type'];
export type FaultSpec = Scenario['fault'];
export type Expectation = Partial<Record<AnomalyKind, 'none' | 'some' | 'any'>>;

export type BuiltinEngineSpec = {
  kind: 'builtin';
  mode: EngineModeName;
  direct: boolean;
  pageSize: number;
  writers: number;
  batchWindowUs: number;
  batchMax: number;
  bug?: PlantedBug;
  protection?: Protection;
};
export type ExternalEngineSpec = {
  kind: 'external';
  /** In trial ids and reports. */
  name: string;
  command: string;
  upload?: string;
  build?: string;
  /** Where `build` runs and `upload` is found: the scenario file's directory (absolute). */
  baseDir: string;
  env: Record<string, string>;
  args: readonly string[];
  store: 'file' | 'directory';
  transactional: boolean;
  direct: boolean;
  pageSize: number;
  writers: number;
  /** Optional protocol extensions the engine declared (`pause-at`). */
  supports: readonly EngineExtension[];
};
export type EngineSpec = BuiltinEngineSpec | ExternalEngineSpec;

export type WorkloadSpec = Scenario['workload'];

/** One concrete trial: everything needed to run (and re-run) it, seed included. */
export type TrialPlan = {
  scenario: string;
  file: string;
  /** Unique within the scenario run: `<fs>-<engine>-<fault>-<n>`. */
  id: string;
  seed: number;
  target: Scenario['target'];
  device: Scenario['device'];
  filesystem: { type: FilesystemType; mountOptions?: string };
  engine: EngineSpec;
  workload: WorkloadSpec;
  fault: FaultSpec;
  expect: Expectation;
};

export const engineLabel = (engine: EngineSpec): string =>
  engine.kind === 'builtin'
    ? `${engine.mode}${engine.protection ? `+${engine.protection}` : ''}${engine.direct ? '+direct' : ''}${engine.bug ? `!${engine.bug}` : ''}`
    : engine.name;

/** Whether the engine keeps its store in a directory of its own (else one preallocated file). */
export const storeIsDirectory = (engine: EngineSpec): boolean =>
  engine.kind === 'external' && engine.store === 'directory';

/** Whether the engine pauses at `--pause-at` marks (built-ins always; a user's engine if declared). */
export const canPause = (engine: EngineSpec): boolean =>
  engine.kind === 'builtin' || engine.supports.includes('pause-at');

export const isTransactional = (engine: EngineSpec): boolean =>
  engine.kind === 'builtin' ? engineTraits[engine.mode].transactional : engine.transactional;
