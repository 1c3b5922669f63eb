import fc from 'fast-check';
import type { EngineMode, EngineOptions, PlantedBug } from '../../src/engine/engine.ts';
import type { Anomaly, AnomalyKind } from '../../src/model/verdict.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { runSimTrial, type SimTrialInput } from '../../src/sim/sim-trial.ts';

export const options = (o: Partial<EngineOptions> = {}): EngineOptions => ({
  pageSize: 4096,
  pages: 6,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 8,
  ...o,
});

export type CrashSpec = {
  mode: EngineMode;
  options: EngineOptions;
  tear?: boolean;
  fault?: SimTrialInput['fault'];
  /** A fault armed at a generated I/O count in [min, max] (until the crash), instead of `fault`. */
  faultFrom?: {
    kind: NonNullable<SimTrialInput['fault']>['kind'];
    min: number;
    max: number;
    corruptByte?: number;
  };
  statesPerRun?: number;
  maxOps?: number;
  /** Variable-length values: sizes drawn from 9 (the shortest value) up to this. */
  valueSizeMax?: number;
};

const trialArb = (spec: CrashSpec) =>
  fc.record({
    ops: workloadArb({
      pages: spec.options.pages,
      maxOps: spec.maxOps ?? 16,
      transactional: spec.mode.transactional,
      maxTxnSize: 4,
      ...(spec.valueSizeMax ? { valueSize: 9, valueSizeMax: spec.valueSizeMax } : {}),
    }),
    cut: fc.nat(80),
    seed: fc.nat(),
    faultAt: spec.faultFrom
      ? fc.integer({ min: spec.faultFrom.min, max: spec.faultFrom.max })
      : fc.constant(undefined),
  });

/** Runs the engine under generated workloads × cut points × crash seeds; returns the anomaly kinds of the first failing state. */
async function worst(
  spec: CrashSpec,
  t: { ops: WorkloadOp[]; cut: number; seed: number; faultAt: number | undefined },
  kinds: readonly AnomalyKind[],
  accept: (anomaly: Anomaly) => boolean = () => true,
) {
  const r = await runSimTrial({
    mode: spec.mode,
    options: spec.options,
    ops: t.ops,
    cutAtIo: t.cut,
    crashStates: spec.statesPerRun ?? 20,
    seed: t.seed,
    tear: spec.tear ?? true,
    ...(spec.fault ? { fault: spec.fault } : {}),
    ...(spec.faultFrom && t.faultAt !== undefined
      ? {
          fault: {
            kind: spec.faultFrom.kind,
            atIo: t.faultAt,
            ...(spec.faultFrom.corruptByte ? { corruptByte: spec.faultFrom.corruptByte } : {}),
          },
        }
      : {}),
  });
  const bad = r.states.find((s) =>
    s.verdict.anomalies.some((a) => kinds.includes(a.kind) && accept(a)),
  );
  return { states: r.states.length, bad };
}

/**
 * Asserts no anomaly of `kinds` in generated trials until at least `distinctStates` distinct
 * crash states were checked (a state whose image its trial already produced counts once), in
 * rounds of fast-check runs with successive seeds; fails if `maxRuns` trials do not get there.
 * Returns how many distinct crash states were checked.
 */
export async function assertNoAnomaly(
  spec: CrashSpec,
  kinds: readonly AnomalyKind[],
  target: { distinctStates: number; maxRuns: number },
): Promise<number> {
  const round = 20;
  let states = 0;
  for (let runs = 0; states < target.distinctStates && runs < target.maxRuns; runs += round) {
    await fc.assert(
      fc.asyncProperty(trialArb(spec), async (t) => {
        const r = await worst(spec, t, kinds);
        states += r.states;
        if (r.bad) throw new Error(r.bad.verdict.anomalies.map((a) => a.message).join('\n'));
      }),
      { numRuns: round, seed: 20261124 + runs },
    );
  }
  return states;
}

/**
 * Runs fast-check against a buggy engine: it must find a failing trial and shrink it.
 * Returns the shrunk counterexample (workload, cut point, seed) and its anomalies.
 */
export async function findCounterexample(
  spec: CrashSpec,
  kinds: readonly AnomalyKind[],
  /** Only anomalies this accepts count (default: any of `kinds`). */
  accept: (anomaly: Anomaly) => boolean = () => true,
) {
  const result = await fc.check(
    fc.asyncProperty(
      trialArb(spec),
      async (t) => (await worst(spec, t, kinds, accept)).bad === undefined,
    ),
    { numRuns: 300, seed: 20261124 },
  );
  if (!result.failed || !result.counterexample) return undefined;
  const [t] = result.counterexample;
  const again = await worst(spec, t, kinds, accept);
  return {
    ...t,
    writes: t.ops.filter((o) => o.op === 'write').length,
    anomalies: (again.bad?.verdict.anomalies ?? []).filter(
      (a) => kinds.includes(a.kind) && accept(a),
    ),
    numShrinks: result.numShrinks,
  };
}

export const withBug = (o: EngineOptions, bug: PlantedBug): EngineOptions => ({ ...o, bug });
