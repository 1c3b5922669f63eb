import { z } from 'zod';
import { anomalyKinds } from '../model/verdict.ts';
import type { EngineModeName } from '../engine/engine.ts';

/**
 * The scenario language, part 1: the engine under test (a built-in mode or a user's engine) and
 * what a trial is expected to find. Strict everywhere: an unknown key is an error, so a typo
 * never silently falls back to a default.
 */
export const engineModes = [
  'plain',
  'fsync',
  'group-commit',
  'cow',
  'slotted',
] as const satisfies readonly EngineModeName[];
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
export const engineVariant = z.strictObject({
  name: engineName,
  command: z.string().min(1).optional(),
  env: envVars.optional(),
  args: z.array(z.string()).optional(),
  transactional: z.boolean().optional(),
  expect: expectation.optional(),
});
