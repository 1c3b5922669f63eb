import { virtualClock } from '../engine/clock.ts';
import type { EngineMode, EngineOptions } from '../engine/engine.ts';
import type { DumpEntry, History, HistoryEvent } from '../model/history.ts';
import type { Verdict } from '../model/verdict.ts';
import type { WorkloadOp } from '../model/workload.ts';
import { check } from '../oracles/check.ts';
import { HistoryIndex } from '../oracles/history-index.ts';
import { imageFile } from './image-file.ts';
import { SimDevice } from './sim-device.ts';
import { slotOffset } from '../engine/direct-layout.ts';

export type SimTrialInput = {
  mode: EngineMode;
  options: EngineOptions;
  ops: readonly WorkloadOp[];
  /** Cut power after this many device I/O calls (default: after the workload finished). */
  cutAtIo?: number;
  fault?: {
    kind: 'drop_writes' | 'error_writes' | 'corrupt_bio_byte';
    atIo: number;
    untilIo?: number;
    /** corrupt_bio_byte: the byte of each write changed (1-based; default 1). */
    corruptByte?: number;
  };
  /**
   * How many distinct crash states to check from the one run: draws go on until that many
   * distinct images were checked, every image the run can leave was seen, or 4× that many
   * draws were made (a draw repeating an image is counted in `duplicates`, not checked).
   */
  crashStates: number;
  seed: number;
  tear?: boolean;
  corrupt?: boolean;
  direct?: boolean;
};

export type SimCrashState = {
  seed: number;
  history: History;
  dump: DumpEntry[];
  verdict: Verdict;
  recoverError?: string;
};

/**
 * The fast tier's trial: runs an engine in-process on a simulated device (virtual clock, so
 * deterministic), injects the fault and the power cut at I/O counts, then draws crash images
 * from the one run until `crashStates` distinct ones were recovered, dumped and checked (or no
 * other can exist, or the draws ran out). An image drawn before is not checked again (same
 * image, same history: same verdict); it is counted in `duplicates`.
 */
export async function runSimTrial(
  input: SimTrialInput,
): Promise<{ states: SimCrashState[]; duplicates: number; ioCount: number }> {
  const { mode, options } = input;
  const device = new SimDevice({ size: mode.storeSize(options) });
  const events: HistoryEvent[] = [];
  const nemesis = (
    action: 'arm' | 'disarm' | 'crash',
    fault?: 'drop_writes' | 'error_writes' | 'corrupt_bio_byte',
  ): void => {
    events.push({ type: 'nemesis', t: events.at(-1)?.t ?? 0, action, ...(fault ? { fault } : {}) });
  };
  const file = device.file({ direct: input.direct ?? false });
  const faultAware: typeof file = input.fault
    ? wrapIo(file, (n) => {
        const f = input.fault!;
        if (n === f.atIo) {
          device.arm(f.kind, f.corruptByte !== undefined ? { corruptByte: f.corruptByte } : {});
          nemesis('arm', f.kind);
        }
        if (f.untilIo !== undefined && n === f.untilIo) {
          device.disarm();
          nemesis('disarm', f.kind);
        }
      })
    : file;
  if (input.cutAtIo !== undefined) device.cutAfterIo(input.cutAtIo);
  const ctx = { file: faultAware, clock: virtualClock(), options };
  const run = mode.run(ctx, iterate(input.ops), (e) => {
    if (!device.isCut) events.push(e);
  });
  await Promise.race([run, device.frozen]);
  device.powerCut();
  nemesis('crash');
  const history: History = { ops: input.ops, events: events.slice() };
  const index = new HistoryIndex(history); // one run, one history: indexed once for every state
  const states: SimCrashState[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const draw = { tear: input.tear ?? false, corrupt: input.corrupt ?? false };
  const want = Math.min(input.crashStates, device.distinctStatesBound(draw));
  for (let i = 0; states.length < want && i < input.crashStates * 4; i++) {
    const seed = (input.seed * 7919 + i) >>> 0;
    const state = device.crashState({ seed, ...draw });
    if (seen.has(state.key)) {
      duplicates++;
      continue;
    }
    seen.add(state.key);
    states.push(await recoverAndCheck(mode, options, state.image(), index, seed));
  }
  return { states, duplicates, ioCount: device.ioCount };
}

async function recoverAndCheck(
  mode: EngineMode,
  options: EngineOptions,
  image: Uint8Array,
  index: HistoryIndex,
  seed: number,
): Promise<SimCrashState> {
  const { history } = index;
  // The image was built for this state alone; recovery writes (if any) go to a copy, so the raw
  // pages below are the state's.
  const ctx = { file: imageFile(image), clock: virtualClock(), options };
  let dump: DumpEntry[];
  let recoverError: string | undefined;
  try {
    await mode.recover(ctx);
    dump = await mode.dump(ctx);
  } catch (error) {
    // An unusable store loses everything: every page is reported as unreadable.
    recoverError = (error as Error).message;
    dump = Array.from({ length: options.pages }, (_, page) => ({ page, error: 'unrecoverable' }));
  }
  const rawPages = !mode.directLayout
    ? undefined
    : new Map(
        Array.from(
          { length: options.pages },
          (_, p) =>
            [
              p,
              [0, 1].map((slot) =>
                image.subarray(
                  slotOffset(p, slot as 0 | 1, options.pageSize),
                  slotOffset(p, slot as 0 | 1, options.pageSize) + options.pageSize,
                ),
              ),
            ] as const,
        ),
      );
  const verdict = check(history, dump, {
    index,
    transactional: mode.transactional,
    ...(rawPages ? { rawPages } : {}),
    ...(recoverError !== undefined ? { recoverError } : {}),
  });
  return { seed, history, dump, verdict, ...(recoverError ? { recoverError } : {}) };
}

async function* iterate(ops: readonly WorkloadOp[]): AsyncGenerator<WorkloadOp> {
  for (const op of ops) yield op;
}

/** Calls `before(n)` before the n-th write/sync (0-based), so faults arm at exact I/O counts. */
function wrapIo<
  T extends { pwrite: (b: Uint8Array, o: number) => Promise<void>; fdatasync: () => Promise<void> },
>(file: T, before: (n: number) => void): T {
  let n = 0;
  return {
    ...file,
    pwrite: (b: Uint8Array, o: number) => {
      before(n++);
      return file.pwrite(b, o);
    },
    fdatasync: () => {
      before(n++);
      return file.fdatasync();
    },
  };
}
