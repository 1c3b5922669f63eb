import { z } from 'zod';
import { engineBranches, engineModes, engineVariant, expectation } from './engine-schema.ts';
import { fault, faultKinds } from './fault-schema.ts';

/** The scenario language, part 3: a whole scenario file. */
export const filesystemTypes = ['ext4', 'xfs', 'btrfs'] as const;

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

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
