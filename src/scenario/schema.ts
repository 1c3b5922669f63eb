import { z } from 'zod';
import { anomalyKinds } from '../model/verdict.ts';
import { engineTraits, internalMarks, type EngineModeName } from '../engine/engine.ts';
import { stopEvents } from '../model/stop-events.ts';

/**
 * The scenario language (YAML files in scenarios/). Strict everywhere: an unknown key is an
 * error, so a typo never silently falls back to a default.
 */
export const engineModes = [
  'plain',
  'fsync',
  'group-commit',
  'cow',
  'slotted',
] as const satisfies readonly EngineModeName[];
export const filesystemTypes = ['ext4', 'xfs', 'btrfs'] as const;
export const faultKinds = [
  'drop_writes',
  'error_writes',
  'corrupt_bio_byte',
  'error_reads',
  'log-writes',
] as const;
export const plantedBugs = [
  'ack-before-sync',
  'group-ack-before-sync',
  'cow-meta-before-data-sync',
  'cow-overwrite-live',
  'no-checksum',
  'ignore-eio',
] as const;

const expectValue = z.enum(['none', 'some', 'any']);
export const expectation = z.strictObject(
  Object.fromEntries(anomalyKinds.map((k) => [k, expectValue.optional()])) as Record<
    (typeof anomalyKinds)[number],
    z.ZodOptional<typeof expectValue>
  >,
);

export const builtinEngine = z.strictObject({
  mode: z
    .enum(engineModes)
    .describe(
      'A built-in engine: plain (ack after pwrite), fsync (ack after fdatasync), group-commit, cow (LMDB-style).',
    ),
  direct: z.boolean().default(false).describe('Open the store with O_DIRECT (aligned buffers).'),
  pageSize: z.number().int().min(512).max(65536).default(4096).describe('Page size in bytes.'),
  writers: z
    .number()
    .int()
    .min(1)
    .max(256)
    .default(1)
    .describe('group-commit: concurrent writers.'),
  batchWindowUs: z
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(200)
    .describe('group-commit: a batch closes this long after its first write...'),
  batchMax: z.number().int().min(1).max(4096).default(64).describe('...or at this many writes.'),
  bug: z.enum(plantedBugs).optional().describe('A planted bug, to see the checkers catch it.'),
  protection: z
    .enum(['none', 'doublewrite'])
    .optional()
    .describe('slotted: none (pages overwritten in place) or doublewrite (a synced copy first).'),
});

/** The engine protocol's optional extensions a user's engine can declare. */
export const engineExtensions = ['pause-at'] as const;

const engineName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, . _ - (it goes into trial ids)')
  .max(40);
const envVars = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
  z.string(),
);

export const externalEngineFields = {
  /** Names the engine in trial ids and reports; default: the command's (or upload's) file name. */
  name: engineName.optional(),
  /**
   * Command run inside the target (engine protocol v1), under `/bin/sh -c`; gets
   * `run|recover|dump --store PATH ...`. Defaults to the uploaded file's path in the target.
   */
  command: z.string().min(1).optional(),
  /**
   * A local file or directory (relative to the scenario file) uploaded to the target's
   * /opt/powercut/user/ (a directory keeps its name: binary, wrapper and data together).
   */
  upload: z.string().min(1).optional(),
  /** Host command that produces `upload`, run in the scenario file's directory before the first trial. */
  build: z.string().min(1).optional(),
  transactional: z.boolean().default(false),
  pageSize: z.number().int().min(512).max(65536).default(4096),
  direct: z.boolean().default(false),
  writers: z.number().int().min(1).max(256).default(1),
  /** Environment variables for every verb (`run`, `recover`, `dump`). */
  env: envVars.default({}),
  /** Extra arguments appended to every verb's command line. */
  args: z.array(z.string()).default([]),
  /**
   * `file`: a preallocated, zero-filled, synced store file (page stores). `directory`: an empty
   * directory the engine owns: it creates, renames and deletes its own files there, and faults
   * hit their data and their directory entries (docs/engine-protocol.md).
   */
  store: z.enum(['file', 'directory']).default('file'),
  /**
   * Optional protocol extensions the engine implements (docs/engine-protocol.md). `pause-at`
   * lets a fault be armed at one of the engine's own marks.
   */
  supports: z.array(z.enum(engineExtensions)).default([]),
};
const externalEngine = z
  .strictObject(externalEngineFields)
  .refine((e) => e.command !== undefined || e.upload !== undefined, {
    message: 'an external engine needs `command` or `upload`',
  });

/** A built-in engine (it has `mode`) or a user's engine (`command`/`upload`). */
export const engineBranches = [builtinEngine, externalEngine] as const;

/** One variant of a user's engine in `matrix.engine`: what differs, and what it is expected to do. */
const engineVariant = z.strictObject({
  name: engineName,
  command: z.string().min(1).optional(),
  env: envVars.optional(),
  args: z.array(z.string()).optional(),
  transactional: z.boolean().optional(),
  expect: expectation.optional(),
});

/**
 * A point the tracer stops the engine at (any engine, no extension needed): its Nth ack, or
 * its Nth syscall of a kind, before or after the call.
 */
const eventPoint = z.strictObject({
  at: z
    .enum(stopEvents)
    .describe(
      "The engine's Nth acknowledgement (ack) or syscall of a kind, counted from its start.",
    ),
  occurrence: z.number().int().min(1).default(1).describe('Which one (1 = the first).'),
  when: z
    .enum(['before', 'after'])
    .default('after')
    .describe('A syscall: stop before it runs, or after it returned.'),
});
const afterOp = z.strictObject({
  afterOp: z
    .number()
    .int()
    .min(0)
    .describe(
      'Right after the engine answered op N (and every op before it), before its next I/O.',
    ),
});

const armPoint = z.union([
  afterOp,
  eventPoint,
  z.strictObject({ atMark: z.string().min(1), occurrence: z.number().int().min(1).default(1) }),
  z.strictObject({ afterSeconds: z.number().min(0) }),
]);

const fault = z.strictObject({
  kind: z
    .enum(faultKinds)
    .describe(
      'What the device does: drop, error or corrupt writes (dm-flakey), or record every write (log-writes).',
    ),
  /** When to load the flakey table (on demand, via suspend --nolockfs / load / resume). */
  arm: armPoint
    .optional()
    .describe('When the fault starts: afterOp, at (ack or a syscall), afterSeconds, or atMark.'),
  /** When to reload the linear table again (error windows; fsyncgate). Default: at the crash. */
  disarm: z
    .union([afterOp, eventPoint])
    .optional()
    .describe(
      'When the fault ends again (default: at the crash); at: failed-sync makes a transient EIO.',
    ),
  /** dm-flakey's own time-based schedule (seconds up, seconds down), instead of `arm`. */
  schedule: z
    .strictObject({ up: z.number().int().min(0), down: z.number().int().min(1) })
    .optional(),
  /**
   * corrupt_bio_byte: which byte of every write bio (1-based) is stored as `value`. Without
   * `byte`, each trial draws one from its seed in 1..64 + workload.valueSize: the first bytes of
   * a page, where engines keep their headers and values, whatever their layout.
   */
  corrupt: z
    .strictObject({
      byte: z.number().int().min(1).optional(),
      value: z.number().int().min(0).max(255).default(0),
    })
    .optional()
    .describe(
      "corrupt_bio_byte: byte (1-based, default drawn from the trial's seed) of every write stored as value.",
    ),
  /**
   * `log-writes` only: which crash states of the recording to check: `flush` (every flush/FUA),
   * `marks` (every acknowledgement), `reorder:N` (flush states, plus up to N unflushed writes
   * of a group lost).
   */
  explore: z
    .string()
    .regex(
      /^(flush|marks|reorder:[1-9]\d?|tear:[1-9]\d?)$/,
      'must be flush, marks, reorder:N or tear:N (N 1-99)',
    )
    .optional(),
  /** `log-writes` only: check at most this many states (a seeded sample beyond it). */
  maxStates: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe('log-writes: check at most this many states (a seeded sample beyond it).'),
});

export const scenarioSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/)
    .optional(),
  description: z.string().optional(),
  target: z
    .enum(['auto', 'qemu', 'vagrant', 'ssh', 'local'])
    .default('auto')
    .describe(
      'Where trials run (auto: local dm-flakey, else a running Vagrant VM, else the embedded guest).',
    ),
  device: z
    .strictObject({
      sizeMb: z.number().int().min(16).max(8192).default(512),
      sectorSize: z.union([z.literal(512), z.literal(4096)]).default(512),
    })
    .default({ sizeMb: 512, sectorSize: 512 }),
  filesystem: z
    .strictObject({
      type: z.enum(filesystemTypes).default('ext4'),
      mountOptions: z
        .string()
        .regex(/^[a-z0-9_=,.-]*$/i)
        .optional(),
    })
    .default({ type: 'ext4' }),
  engine: z
    .union(engineBranches)
    .describe(
      "The engine under test: a built-in mode, or a user's engine speaking the engine protocol.",
    ),
  workload: z.strictObject({
    ops: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .describe('Write ops (commits come on top for transactional engines).'),
    pages: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(64)
      .describe('Logical pages the writes go to.'),
    valueSize: z.number().int().min(8).max(2048).default(16).describe('Characters per value.'),
    valueSizeMax: z
      .number()
      .int()
      .min(8)
      .max(2048)
      .optional()
      .describe('Variable-length values: each write draws its size from valueSize..valueSizeMax.'),
    txnSize: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(4)
      .describe('Transactional engines: at most this many writes per commit.'),
    seed: z
      .number()
      .int()
      .optional()
      .describe("The workload's seed (default: the run's, printed)."),
    /** Feed ops at this rate (the time-schedule experiment needs the loop to span seconds). */
    opsPerSecond: z.number().positive().optional(),
  }),
  fault: fault,
  trials: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(1)
    .describe('Trials per matrix cell; trial n uses seed + n - 1.'),
  expect: expectation
    .default({})
    .describe('Per anomaly: none (must not appear), some (must appear), any (not judged).'),
  /** Per-mode overrides of `expect` (a matrix over modes expects different things of each). */
  expectByMode: z.partialRecord(z.enum(engineModes), expectation).optional(),
  matrix: z
    .strictObject({
      fs: z.array(z.enum(filesystemTypes)).min(1).optional(),
      mode: z.array(z.enum(engineModes)).min(1).optional(),
      fault: z.array(z.enum(faultKinds)).min(1).optional(),
      /** Variants of a user's engine (env, args, command), each with its own expectations. */
      engine: z.array(engineVariant).min(1).optional(),
    })
    .optional(),
});

/** Fields that only make sense for one family of faults (flakey windows vs a log-writes recording). */
export const scenarioSchemaChecked = scenarioSchema.superRefine((s, ctx) => {
  const issue = (path: (string | number)[], message: string): void =>
    ctx.addIssue({ code: 'custom', path, message });
  // Points that cannot be reached: a trial would run without its fault (or never disarm).
  const transactional =
    'mode' in s.engine ? engineTraits[s.engine.mode].transactional : s.engine.transactional;
  const writes = s.workload.ops;
  // Ops fed to the engine: the writes, plus (transactional) at least one commit per txnSize writes.
  const minOps = writes + (transactional ? Math.ceil(writes / s.workload.txnSize) : 0);
  // Acknowledged ops: every write, or (transactional) at most one commit per write.
  const ackable = writes;
  for (const key of ['arm', 'disarm'] as const) {
    const point = s.fault[key];
    if (point && 'afterOp' in point && point.afterOp > minOps)
      issue(
        ['fault', key, 'afterOp'],
        `${point.afterOp} is past the end of the workload (${minOps} ops${transactional ? `: ${writes} writes and at least ${minOps - writes} commits` : ''}): the fault would never ${key === 'arm' ? 'be armed' : 'be disarmed'} where asked; use at most ${minOps}`,
      );
    if (point && 'at' in point && point.at === 'ack' && point.occurrence > ackable)
      issue(
        ['fault', key, 'occurrence'],
        `${point.occurrence} acknowledgements cannot happen: the workload has ${ackable} ${transactional ? 'commits at most' : 'writes'}`,
      );
  }
  if (s.fault.schedule && s.fault.arm)
    issue(
      ['fault', 'schedule'],
      "schedule and arm are two ways to say when the fault is on: use one (schedule: dm-flakey's own up/down intervals; arm: a point in the workload)",
    );
  const w = s.workload;
  if (w.valueSizeMax !== undefined && w.valueSizeMax < w.valueSize)
    issue(['workload', 'valueSizeMax'], `${w.valueSizeMax} is below valueSize ${w.valueSize}`);
  if ('mode' in s.engine && (s.matrix?.mode ?? [s.engine.mode]).includes('slotted')) {
    // 16 records per page: each a 6-byte slot and its value, after a 32-byte header.
    const fits = Math.floor((s.engine.pageSize - 32) / 16) - 6;
    const biggest = w.valueSizeMax ?? w.valueSize;
    if (biggest > fits)
      issue(
        ['workload', w.valueSizeMax !== undefined ? 'valueSizeMax' : 'valueSize'],
        `${biggest} characters do not fit 16 records in a ${s.engine.pageSize}-byte slotted page: at most ${fits}`,
      );
  }
  if (
    'mode' in s.engine &&
    s.engine.protection &&
    !(s.matrix?.mode ?? [s.engine.mode]).includes('slotted')
  )
    issue(['engine', 'protection'], 'protection applies to mode slotted only');
  if (s.fault.disarm && !s.fault.arm)
    issue(['fault', 'disarm'], 'disarm without arm: nothing was armed to disarm');
  const arm = s.fault.arm;
  const disarm = s.fault.disarm;
  if (arm && disarm && 'afterOp' in arm && 'afterOp' in disarm && disarm.afterOp <= arm.afterOp)
    issue(
      ['fault', 'disarm', 'afterOp'],
      `${disarm.afterOp} is not after arm.afterOp ${arm.afterOp}: the fault would be disarmed before (or as) it is armed`,
    );
  if (!('mode' in s.engine)) {
    if (s.matrix?.mode)
      issue(
        ['matrix', 'mode'],
        'matrix.mode varies a built-in engine; a user engine varies with matrix.engine',
      );
    if (s.expectByMode)
      issue(
        ['expectByMode'],
        "expectByMode is for built-in engines; give a user engine's variants their own expect in matrix.engine",
      );
  }
  if (s.matrix?.engine && 'mode' in s.engine)
    ctx.addIssue({
      code: 'custom',
      path: ['matrix', 'engine'],
      message: 'engine variants are for a user engine; a built-in engine varies with matrix.mode',
    });
  if (s.matrix?.engine) {
    const names = s.matrix.engine.map((v) => v.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice)
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'engine'],
        message: `engine variant ${JSON.stringify(twice)} is named twice (names go into trial ids)`,
      });
  }
  const kinds = s.matrix?.fault ?? [s.fault.kind];
  const recording = kinds.includes('log-writes');
  const flakey = kinds.some((k) => k !== 'log-writes');
  for (const key of ['arm', 'disarm', 'schedule', 'corrupt'] as const) {
    if (recording && s.fault[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key],
        message: `log-writes records the whole run and explores its crash states: it takes no ${key}`,
      });
  }
  if (arm && 'atMark' in arm) {
    const engine = s.engine;
    const modes = 'mode' in engine ? (s.matrix?.mode ?? [engine.mode]) : [];
    const blind = modes.find((mode) => !internalMarks[mode].includes(arm.atMark));
    const message = blind
      ? `engine mode ${blind} never reaches mark ${JSON.stringify(arm.atMark)}, so the fault would never be armed (its marks: ${internalMarks[blind].join(', ')})`
      : !('mode' in engine) && !engine.supports.includes('pause-at')
        ? 'arming at a mark needs an engine that pauses there: declare `supports: [pause-at]` on the engine (docs/engine-protocol.md) or arm with afterOp'
        : undefined;
    if (message) ctx.addIssue({ code: 'custom', path: ['fault', 'arm', 'atMark'], message });
  }
  for (const key of ['arm', 'disarm'] as const) {
    const point = s.fault[key];
    if (
      point &&
      'at' in point &&
      point.when === 'before' &&
      (point.at === 'ack' || point.at === 'failed-sync')
    )
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key, 'when'],
        message: `${point.at} is known only once it happened: use when: after`,
      });
  }
  for (const key of ['explore', 'maxStates'] as const) {
    if (flakey && s.fault[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['fault', key],
        message: `${key} applies only to fault kind log-writes`,
      });
  }
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type EngineExtension = (typeof engineExtensions)[number];
export type ScenarioInput = z.input<typeof scenarioSchema>;
