import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { realClock } from '../src/engine/clock.ts';
import type { EngineMode, EngineOptions } from '../src/engine/engine.ts';
import { openStoreFile } from '../src/engine/file-store.ts';
import { engineModes } from '../src/engine/registry.ts';
import type { StoreFile } from '../src/engine/store-file.ts';
import type { EngineEvent } from '../src/model/history.ts';
import type { WorkloadOp } from '../src/model/workload.ts';
import { makeValue } from '../src/oracles/arbitraries.ts';

export type EngineBenchRow = {
  engine: string;
  direct: boolean;
  writers: number;
  batchWindowUs: number;
  ops: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  syncs: number;
  /** Bytes written to the store per logical byte acknowledged (page-sized values). */
  writeAmplification: number;
};

/** Counts bytes written and syncs, to report write amplification and syncs per op. */
function counting(file: StoreFile): { file: StoreFile; bytes: () => number; syncs: () => number } {
  let bytes = 0;
  let syncs = 0;
  return {
    file: {
      ...file,
      pwrite: (buf, offset) => {
        bytes += buf.length;
        return file.pwrite(buf, offset);
      },
      ...(file.pwriteMany && {
        pwriteMany: (writes) => {
          for (const w of writes) bytes += w.buf.length;
          return file.pwriteMany!(writes);
        },
      }),
      ...(file.pwriteManySync && {
        pwriteManySync: (writes) => {
          for (const w of writes) bytes += w.buf.length;
          file.pwriteManySync!(writes);
        },
      }),
      fdatasync: () => {
        syncs++;
        return file.fdatasync();
      },
    },
    bytes: () => bytes,
    syncs: () => syncs,
  };
}

function workload(mode: EngineMode, ops: number, pages: number): WorkloadOp[] {
  const out: WorkloadOp[] = [];
  let id = 0;
  for (let i = 0; i < ops; i++) {
    id++;
    out.push({ op: 'write', id, page: (i * 7919) % pages, value: makeValue(id, 16) });
    if (mode.transactional && i % 4 === 3) out.push({ op: 'commit', id: ++id });
  }
  if (mode.transactional) out.push({ op: 'commit', id: id + 1 });
  return out;
}

/** One engine run on a real file: throughput, ack latency percentiles, write amplification. */
export async function benchEngine(
  dir: string,
  modeName: keyof typeof engineModes,
  o: { direct: boolean; writers: number; batchWindowUs: number; batchMaxOps: number; ops: number },
): Promise<EngineBenchRow> {
  const mode = engineModes[modeName];
  const options: EngineOptions = {
    pageSize: 4096,
    pages: 256,
    writers: o.writers,
    batchWindowUs: o.batchWindowUs,
    batchMaxOps: o.batchMaxOps,
  };
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${modeName}-${o.direct}-${o.writers}-${o.batchWindowUs}.db`);
  rmSync(path, { force: true });
  const raw = await openStoreFile(path, {
    create: true,
    size: mode.storeSize(options),
    direct: o.direct,
  });
  const counted = counting(raw);
  const ops = workload(mode, o.ops, options.pages);
  const invoked = new Map<number, number>();
  const latencies: number[] = [];
  const emit = (e: EngineEvent): void => {
    if (e.type === 'invoke') invoked.set(e.id, e.t);
    if (e.type === 'ok') latencies.push((e.t - (invoked.get(e.id) ?? e.t)) / 1000);
  };
  async function* feed(): AsyncGenerator<WorkloadOp> {
    yield* ops;
  }
  const start = process.hrtime.bigint();
  await mode.run({ file: counted.file, clock: realClock, options }, feed(), emit);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await raw.close();
  rmSync(path, { force: true });
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
  const writes = ops.filter((op) => op.op === 'write').length;
  return {
    engine: modeName,
    direct: o.direct,
    writers: o.writers,
    batchWindowUs: o.batchWindowUs,
    ops: writes,
    opsPerSec: Math.round(writes / seconds),
    p50Us: pct(0.5),
    p99Us: pct(0.99),
    syncs: counted.syncs(),
    writeAmplification: Number((counted.bytes() / (writes * options.pageSize)).toFixed(2)),
  };
}
