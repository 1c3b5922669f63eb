import { z } from 'zod';
import { stopEvents } from '../model/stop-events.ts';

/** The scenario language, part 2: the fault, and where it is armed and disarmed. */
export const faultKinds = [
  'drop_writes',
  'error_writes',
  'corrupt_bio_byte',
  'error_reads',
  'log-writes',
] as const;
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

export const fault = z.strictObject({
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
   * of a group lost), `tear:N` (a write persisted in part), `misdirect:N` (each store write at N
   * other blocks of the store). See src/logwrites/states.ts.
   */
  explore: z
    .string()
    .regex(
      /^(flush|marks|reorder:[1-9]\d?|tear:[1-9]\d?|misdirect:[1-9]\d?)$/,
      'must be flush, marks, reorder:N, tear:N or misdirect:N (N 1-99)',
    )
    .optional(),
  /**
   * `log-writes` only: also run the filesystem's read-only check (e2fsck -fn, xfs_repair -n,
   * btrfs check) on every crash state, after the engine's recovery, for `fs-corrupt` verdicts
   * about the filesystem itself. Off unless asked: one process more per state, and a finding
   * about the filesystem, not the engine. (A dm-flakey trial always checks its one state.)
   */
  fsck: z
    .boolean()
    .optional()
    .describe(
      "log-writes: also run the filesystem's read-only check on every crash state (fs-corrupt verdicts about the filesystem itself; default false: one process more per state).",
    ),
  /** `log-writes` only: check at most this many states (a seeded sample beyond it). */
  maxStates: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe('log-writes: check at most this many states (a seeded sample beyond it).'),
  /**
   * `log-writes` with a built-in engine: every state is screened on the host, then a real
   * kernel confirms the failing ones and a seeded sample of the rest. `host` (ext4): the
   * state's image, e2fsck's journal replay, debugfs, e2fsck. `store` (ext4 or xfs, plain, fsync
   * or group-commit): the store file's blocks read straight from the recording, in-process.
   */
  screen: z
    .enum(['host', 'store'])
    .optional()
    .describe(
      'log-writes, built-in engines: screen every state on the host (host: ext4 image + e2fsck; store: the store file read from the log, direct-layout engines on ext4/xfs), then confirm failing states and a seeded sample of passing ones on the real kernel.',
    ),
});
