import type { DumpEntry, EngineEvent } from '../model/history.ts';
import type { WorkloadOp } from '../model/workload.ts';
import type { Clock } from './clock.ts';
import type { PageImage } from './page-image.ts';
import type { StoreFile } from './store-file.ts';

export type EngineModeName = 'plain' | 'fsync' | 'group-commit' | 'cow' | 'slotted';
export const engineModeNames: readonly EngineModeName[] = [
  'plain',
  'fsync',
  'group-commit',
  'cow',
  'slotted',
];

/**
 * What the rest of powercut needs to know of each built-in mode without loading it: whether it
 * acknowledges commits (transactional) and whether it keeps the ping-pong direct layout (the
 * checker can then read both raw copies of a page). The modes themselves repeat these; a test
 * holds them equal.
 */
export const engineTraits: Record<
  EngineModeName,
  { transactional: boolean; directLayout: boolean }
> = {
  plain: { transactional: false, directLayout: true },
  fsync: { transactional: false, directLayout: true },
  'group-commit': { transactional: false, directLayout: true },
  cow: { transactional: true, directLayout: false },
  slotted: { transactional: false, directLayout: false },
};

/** slotted: how an in-place page update survives a torn write (src/engine/slotted.ts). */
export type Protection = 'none' | 'doublewrite';

/**
 * Deliberately broken variants, used to prove the checkers catch real bugs:
 * - `ack-before-sync`: fsync engine acks after pwrite, before fdatasync returns.
 * - `group-ack-before-sync`: group commit acks the batch before its fdatasync.
 * - `cow-meta-before-data-sync`: CoW writes the meta page before the data pages' fdatasync.
 * - `cow-overwrite-live`: CoW overwrites pages reachable from the committed root in place.
 * - `no-checksum`: dump/recover trust page headers without verifying the CRC.
 * - `ignore-eio`: swallows an fdatasync EIO and acks the op once a later fdatasync succeeds (fsyncgate).
 */
export type PlantedBug =
  | 'ack-before-sync'
  | 'group-ack-before-sync'
  | 'cow-meta-before-data-sync'
  | 'cow-overwrite-live'
  | 'no-checksum'
  | 'ignore-eio';

export type EngineOptions = {
  pageSize: number;
  /** Logical pages the workload addresses (0..pages-1); dump prints every one of them. */
  pages: number;
  /** Concurrent writers (group commit; other engines process ops one at a time). */
  writers: number;
  /** Group commit: close a batch this long after its first write (µs). */
  batchWindowUs: number;
  /** Group commit: close a batch at this many writes. */
  batchMaxOps: number;
  bug?: PlantedBug;
  /** slotted only: `none` (in place) or `doublewrite` (a copy first). Default `none`. */
  protection?: Protection;
};

export const defaultEngineOptions: Omit<EngineOptions, 'pages'> = {
  pageSize: 4096,
  writers: 1,
  batchWindowUs: 200,
  batchMaxOps: 64,
};

/**
 * The marks each built-in engine reaches on its own, where a fault can be armed
 * (`arm: { atMark }`). `ack` is every engine's: with `--pause-at ack` it pauses after each ack.
 */
export const internalMarks: Record<EngineModeName, readonly string[]> = {
  plain: ['ack'],
  fsync: ['ack'],
  'group-commit': ['ack', 'group:before-sync'],
  cow: ['ack', 'cow:before-meta'],
  slotted: ['ack'],
};

/**
 * Called at every mark the engine reaches, workload marks and internal ones
 * (`cow:before-meta`, `group:before-sync`, ...), after the mark event was emitted. The engine
 * awaits it: the CLI uses this to pause until the harness has armed a fault.
 */
export type MarkHook = (name: string) => Promise<void>;

export type EngineContext = {
  file: StoreFile;
  clock: Clock;
  options: EngineOptions;
};

/** A built-in engine: the three protocol verbs as functions over a StoreFile. */
export interface EngineMode {
  readonly name: EngineModeName;
  /** Transactional engines ack `commit` ops; the others ack each write. */
  readonly transactional: boolean;
  /**
   * Logical page p kept in two ping-pong slots at 2p and 2p+1 (direct-layout.ts): the checker
   * may then read both raw copies to see damage returned as data.
   */
  readonly directLayout: boolean;
  /** Smallest store (bytes) that holds `options.pages` logical pages. */
  storeSize(options: EngineOptions): number;
  run(
    ctx: EngineContext,
    ops: AsyncIterable<WorkloadOp>,
    emit: (event: EngineEvent) => void,
    onMark?: MarkHook,
  ): Promise<void>;
  /** Opens the store after a crash; throws an Error saying why if it is unusable. */
  recover(ctx: EngineContext): Promise<void>;
  dump(ctx: EngineContext): Promise<DumpEntry[]>;
  /**
   * What `recover` then `dump` return for a store holding this image, computed in memory: the
   * simulated tier checks thousands of crash images a second this way. Throws what `recover`
   * would. Recovery's writes, if it makes any, change only what this call reads.
   */
  dumpImage?(image: PageImage, options: EngineOptions): DumpEntry[];
}
