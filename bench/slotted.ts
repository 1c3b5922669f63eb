import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { realClock } from '../src/engine/clock.ts';
import type { EngineMode, EngineOptions, Protection } from '../src/engine/engine.ts';
import { openStoreFile } from '../src/engine/file-store.ts';
import { engineModes } from '../src/engine/registry.ts';
import type { StoreFile } from '../src/engine/store-file.ts';
import type { WorkloadOp } from '../src/model/workload.ts';
import { makeValue } from '../src/oracles/arbitraries.ts';

export type RecordLayoutRow = {
  layout: string;
  records: number;
  /** Store bytes per record the engine can hold (its allocated store over its keys). */
  storeBytesPerRecord: number;
  /** Bytes written to the device per byte of value acknowledged. */
  writeAmplification: number;
  syncsPerWrite: number;
  opsPerSec: number;
};

/**
 * Seed item 2's comparison, one run, one workload (variable-length values of 9-120 bytes,
 * 256 keys): fixed-size records (the fsync engine: one 4 KiB page per key, in two ping-pong
 * slots) against slotted pages (16 keys per page, updated in place), unprotected and with a
 * doublewrite area, on a file on this machine's disk.
 */
export async function benchRecordLayouts(dir: string, writes: number): Promise<RecordLayoutRow[]> {
  const keys = 256;
  const ops: WorkloadOp[] = Array.from({ length: writes }, (_, i) => ({
    op: 'write',
    id: i + 1,
    page: (i * 7919) % keys,
    value: makeValue(i + 1, 9 + ((i * 37) % 112)),
  }));
  const valueBytes = ops.reduce((n, op) => n + (op.op === 'write' ? op.value.length : 0), 0);
  const layouts: [string, EngineMode, Protection | undefined][] = [
    ['fixed-size (fsync, ping-pong)', engineModes.fsync, undefined],
    ['slotted, no protection', engineModes.slotted, 'none'],
    ['slotted, doublewrite', engineModes.slotted, 'doublewrite'],
  ];
  const rows: RecordLayoutRow[] = [];
  mkdirSync(dir, { recursive: true });
  for (const [layout, mode, protection] of layouts) {
    const options: EngineOptions = {
      pageSize: 4096,
      pages: keys,
      writers: 1,
      batchWindowUs: 0,
      batchMaxOps: 1,
      ...(protection ? { protection } : {}),
    };
    const path = join(dir, `layout-${mode.name}-${protection ?? 'fixed'}.db`);
    rmSync(path, { force: true });
    const raw = await openStoreFile(path, { create: true, size: mode.storeSize(options) });
    let bytes = 0;
    let syncs = 0;
    const file: StoreFile = {
      ...raw,
      pwrite: (buf, offset) => ((bytes += buf.length), raw.pwrite(buf, offset)),
      fdatasync: () => (syncs++, raw.fdatasync()),
    };
    const start = process.hrtime.bigint();
    await mode.run(
      { file, clock: realClock, options },
      (async function* () {
        yield* ops;
      })(),
      () => undefined,
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await raw.close();
    rmSync(path, { force: true });
    rows.push({
      layout,
      records: keys,
      storeBytesPerRecord: Math.round(mode.storeSize(options) / keys),
      writeAmplification: Number((bytes / valueBytes).toFixed(1)),
      syncsPerWrite: Number((syncs / writes).toFixed(2)),
      opsPerSec: Math.round(writes / seconds),
    });
  }
  return rows;
}
