import { virtualClock } from '../engine/clock.ts';
import type { EngineMode, EngineOptions } from '../engine/engine.ts';
import type { StoreFile } from '../engine/store-file.ts';
import type { HistoryEvent } from '../model/history.ts';
import type { WorkloadOp } from '../model/workload.ts';
import { endMark, startMark, type LogEntry } from './format.ts';

/**
 * Runs a built-in engine over `workload` on a memory recording: the start mark, the engine's
 * writes and syncs with an `ack:<id>` mark at each acknowledgement, the end mark. Returns the
 * log (entries and data) and the engine's history.
 */
export async function recordBuiltin(
  mode: EngineMode,
  options: EngineOptions,
  workload: readonly WorkloadOp[],
) {
  const storeBytes = mode.storeSize(options);
  const recording = memoryRecording(storeBytes);
  recording.mark(startMark);
  async function* feed(): AsyncGenerator<WorkloadOp> {
    yield* workload;
  }
  const history: HistoryEvent[] = [];
  await mode.run({ file: recording.file, clock: virtualClock(), options }, feed(), (e) => {
    history.push(e);
    if (e.type === 'ok') recording.mark(`ack:${e.id}`);
  });
  recording.mark(endMark);
  return { entries: recording.entries, readLog: recording.readLog, history, storeBytes };
}

/**
 * A store in memory whose writes, flushes and marks are logged as dm-log-writes logs a buffered
 * file: a write reaches the log when fdatasync writes it back (the page cache holds it until
 * then, so an ack mark made before the sync precedes the write in the log), then the flush.
 * For benches and tests of the host-side screen without a kernel; trials record real devices.
 * @example const r = memoryRecording(1 << 20); await engine.run({ file: r.file, ... }); r.mark('ack:1');
 */
export function memoryRecording(size: number) {
  const image = new Uint8Array(size);
  const cached = new Map<number, Uint8Array>();
  const entries: LogEntry[] = [];
  const data: Uint8Array[] = [];
  let dataBytes = 0;
  let log = new Uint8Array(0);
  const entry = (e: Omit<LogEntry, 'index' | 'dataOffset'>, bytes?: Uint8Array): void => {
    entries.push({ index: entries.length, dataOffset: dataBytes, ...e });
    if (bytes) {
      data.push(bytes.slice());
      dataBytes += bytes.length;
    }
  };
  const plain = { flush: false, fua: false, discard: false, metadata: false };
  const file: StoreFile = {
    size: () => size,
    alloc: (n) => new Uint8Array(n),
    pwrite: async (buf, offset) => {
      image.set(buf, offset);
      cached.set(offset, buf.slice());
    },
    pread: async (n, offset) => image.slice(offset, offset + n),
    fdatasync: async () => {
      for (const [offset, buf] of [...cached].sort((a, b) => a[0] - b[0]))
        entry({ ...plain, sector: offset / 512, nrSectors: buf.length / 512 }, buf);
      cached.clear();
      entry({ ...plain, flush: true, sector: 0, nrSectors: 0 });
    },
    close: async () => undefined,
  };
  return {
    file,
    entries,
    mark: (name: string) => entry({ ...plain, sector: 0, nrSectors: 0, mark: name }),
    readLog: (offset: number, length: number): Uint8Array => {
      if (log.length !== dataBytes) log = new Uint8Array(Buffer.concat(data));
      return log.subarray(offset, offset + length);
    },
  };
}
