import { virtualClock } from '../engine/clock.ts';
import type { EngineMode, EngineOptions } from '../engine/engine.ts';
import type { DumpEntry, History, HistoryEvent } from '../model/history.ts';
import type { Verdict } from '../model/verdict.ts';
import type { WorkloadOp } from '../model/workload.ts';
import { check } from '../oracles/check.ts';
import { HistoryIndex } from '../oracles/history-index.ts';
import { type ImageSource, imageFile } from './image-file.ts';
import { SimDevice } from './sim-device.ts';
import type { StoreFile } from '../engine/store-file.ts';
import type { DecodedPage } from '../engine/page-format.ts';
import { rawPagesFromBytes } from '../engine/direct-layout.ts';

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
export async function runSimTrial(input: SimTrialInput): Promise<{
  states: (SimCrashState & { image: () => Uint8Array })[];
  duplicates: number;
  ioCount: number;
}> {
  const { mode, options } = input;
  const { device, events } = await runUntilCut(input);
  events.push(nemesisEvent(events, 'crash'));
  const history: History = { ops: input.ops, events: events.slice() };
  const index = new HistoryIndex(history); // one run, one history: indexed once for every state
  const states: (SimCrashState & { image: () => Uint8Array })[] = [];
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
    const image = state.image();
    states.push({
      ...(await recoverAndCheck(mode, options, image, index, seed)),
      image: () => image,
    });
  }
  return { states, duplicates, ioCount: device.ioCount };
}

/**
 * Runs the engine on a fresh simulated device until the power cut at `cutAtIo` I/O calls (or
 * the workload's end), faults armed at their I/O counts; returns the device, cut, and the
 * events the engine emitted before the cut (no crash event yet).
 */
export async function runUntilCut(
  input: Pick<SimTrialInput, 'mode' | 'options' | 'ops' | 'cutAtIo' | 'fault' | 'direct'>,
): Promise<{ device: SimDevice; events: HistoryEvent[] }> {
  const { mode, options } = input;
  const device = new SimDevice({ size: mode.storeSize(options) });
  const events: HistoryEvent[] = [];
  const file = withFault(
    device,
    device.file({ direct: input.direct ?? false }),
    input.fault,
    events,
  );
  if (input.cutAtIo !== undefined) device.cutAfterIo(input.cutAtIo);
  const ctx = { file, clock: virtualClock(), options };
  const run = mode.run(ctx, iterate(input.ops), (e) => {
    if (!device.isCut) events.push(e);
  });
  await Promise.race([run, device.frozen]);
  device.powerCut();
  return { device, events };
}

/** Recovers and dumps one crash image with the engine, and checks the dump against the history. */
export async function recoverAndCheck(
  mode: EngineMode,
  options: EngineOptions,
  state: Uint8Array | ImageSource,
  index: HistoryIndex,
  seed: number,
): Promise<SimCrashState> {
  // The image was built for this state alone; recovery writes (if any) go to a copy, so the raw
  // pages below are the state's.
  const ctx = { file: imageFile(state), clock: virtualClock(), options };
  // Direct layout: the checker reads both raw slots of every page.
  const image = !mode.directLayout
    ? undefined
    : state instanceof Uint8Array
      ? state
      : state.materialize();
  const rawPages = image ? rawPagesFromBytes(image, options.pageSize, options.pages) : undefined;
  return judgeState(mode, options, index, seed, rawPages, async () => {
    await mode.recover(ctx);
    return mode.dump(ctx);
  });
}

/**
 * Checks what `recoverAndDump` returns against the history; a recovery that throws loses
 * everything (every page reported unreadable). `decode` reads the raw pages (it may memoize).
 */
export async function judgeState(
  mode: EngineMode,
  options: EngineOptions,
  index: HistoryIndex,
  seed: number,
  rawPages: ReadonlyMap<number, readonly Uint8Array[]> | undefined,
  recoverAndDump: () => DumpEntry[] | Promise<DumpEntry[]>,
  decode?: (bytes: Uint8Array, page: number) => DecodedPage,
): Promise<SimCrashState> {
  const { history } = index;
  let dump: DumpEntry[];
  let recoverError: string | undefined;
  try {
    dump = await recoverAndDump();
  } catch (error) {
    recoverError = (error as Error).message;
    dump = Array.from({ length: options.pages }, (_, page) => ({ page, error: 'unrecoverable' }));
  }
  const verdict = check(history, dump, {
    index,
    transactional: mode.transactional,
    ...(rawPages ? { rawPages } : {}),
    ...(decode ? { decodeRaw: decode } : {}),
    ...(recoverError !== undefined ? { recoverError } : {}),
  });
  const state: SimCrashState = { seed, history, dump, verdict };
  if (recoverError !== undefined) state.recoverError = recoverError;
  return state;
}

/** The workload as the engine reads it: an async stream of ops. */
export async function* iterate(ops: readonly WorkloadOp[]): AsyncGenerator<WorkloadOp> {
  for (const op of ops) yield op;
}

type FaultKind = 'drop_writes' | 'error_writes' | 'corrupt_bio_byte';

/** The nemesis event for the history: it happened right after the last event. */
export function nemesisEvent(
  events: readonly HistoryEvent[],
  action: 'arm' | 'disarm' | 'crash',
  fault?: FaultKind,
): HistoryEvent {
  return { type: 'nemesis', t: events.at(-1)?.t ?? 0, action, ...(fault ? { fault } : {}) };
}

/** `file` with the input's fault armed (and disarmed) at exact I/O counts, logged in `events`. */
export function withFault<T extends StoreFile>(
  device: SimDevice,
  file: T,
  fault: SimTrialInput['fault'],
  events: HistoryEvent[],
): T {
  if (!fault) return file;
  return wrapIo(file, (n) => {
    // After the power cut, I/O calls (other writers') still come, and never settle: no fault
    // acts on them, and no nemesis event follows the crash.
    if (device.isCut) return;
    if (n === fault.atIo) {
      device.arm(
        fault.kind,
        fault.corruptByte !== undefined ? { corruptByte: fault.corruptByte } : {},
      );
      events.push(nemesisEvent(events, 'arm', fault.kind));
    }
    if (fault.untilIo !== undefined && n === fault.untilIo) {
      device.disarm();
      events.push(nemesisEvent(events, 'disarm', fault.kind));
    }
  });
}

/** Calls `before(n)` before the n-th write/sync (0-based), so faults arm at exact I/O counts. */
export function wrapIo<
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
