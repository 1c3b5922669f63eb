import { benchEngine, type EngineBenchRow } from './engines.ts';
import { syncReferences } from './sync-ceiling.ts';
import { median, medianAndRange } from './stats.ts';

export type GroupRow = {
  writers: number;
  windowUs: number;
  groupOpsPerSec: number;
  fsyncPerWriteOpsPerSec: number;
  ratio: number;
  syncsPerOp: number;
};

export type GroupReferenceRow = {
  writers: number;
  windowUs: number;
  pairs: number;
  groupOpsPerSec: number;
  cPerWriteSyncOpsPerSec: number;
  cCeilingOpsPerSec: number;
  cCeilingSameOffsetsOpsPerSec: number;
  /** Each a median over the pairs, then its range: "0.62 (0.55-0.70)". */
  groupVsPerWriteSync: string;
  groupShareOfCeiling: string;
  groupShareOfSameOffsets: string;
  ceilingVsPerWriteSync: string;
};

/**
 * Group commit at 1-64 writers: first each window beside fsync-per-write (the engine with
 * batches of one), then, at the best window, `pairs` alternating runs of the engine and of the C
 * references right after it (writers that each sync, the ceiling of batched writes plus one
 * fdatasync, and that ceiling at the engine's own offsets). Each ratio is taken within its pair
 * and reported as the median with its range: this shared disk drifts by ±20 % within minutes,
 * and one pair alone had swung a share of the ceiling from 0.5 to 0.7.
 */
export async function benchGroupCommit(dir: string, ops: number, pairs: number) {
  const rows: EngineBenchRow[] = [];
  const groupRows: GroupRow[] = [];
  const referenceRows: GroupReferenceRow[] = [];
  const run = (writers: number, batchWindowUs: number, batchMaxOps = 64) =>
    benchEngine(dir, 'group-commit', { direct: false, writers, batchWindowUs, batchMaxOps, ops });
  for (const writers of [1, 4, 16, 64]) {
    // fsync-per-write at the same writer count = group commit with batches of one.
    const single = await run(writers, 0, 1);
    for (const windowUs of [0, 200, 1000]) {
      const g = await run(writers, windowUs);
      rows.push(g);
      groupRows.push({
        writers,
        windowUs,
        groupOpsPerSec: g.opsPerSec,
        fsyncPerWriteOpsPerSec: single.opsPerSec,
        ratio: Number((g.opsPerSec / single.opsPerSec).toFixed(2)),
        syncsPerOp: Number((g.syncs / g.ops).toFixed(3)),
      });
    }
    const best = groupRows
      .filter((r) => r.writers === writers)
      .reduce((a, b) => (b.groupOpsPerSec > a.groupOpsPerSec ? b : a));
    const measured: ({ group: number } & ReturnType<typeof syncReferences>)[] = [];
    for (let i = 0; i < pairs; i++) {
      const group = (await run(writers, best.windowUs)).opsPerSec;
      measured.push({ group, ...syncReferences(dir, writers, ops) });
    }
    const ratio = (f: (m: (typeof measured)[number]) => number) => medianAndRange(measured.map(f));
    referenceRows.push({
      writers,
      windowUs: best.windowUs,
      pairs,
      groupOpsPerSec: Math.round(median(measured.map((m) => m.group))),
      cPerWriteSyncOpsPerSec: Math.round(median(measured.map((m) => m.perWriteSync.opsPerSec))),
      cCeilingOpsPerSec: Math.round(median(measured.map((m) => m.ceiling.opsPerSec))),
      cCeilingSameOffsetsOpsPerSec: Math.round(
        median(measured.map((m) => m.engineCeiling.opsPerSec)),
      ),
      groupVsPerWriteSync: ratio((m) => m.group / m.perWriteSync.opsPerSec),
      groupShareOfCeiling: ratio((m) => m.group / m.ceiling.opsPerSec),
      groupShareOfSameOffsets: ratio((m) => m.group / m.engineCeiling.opsPerSec),
      ceilingVsPerWriteSync: ratio((m) => m.ceiling.opsPerSec / m.perWriteSync.opsPerSec),
    });
  }
  console.log(`\nGroup commit vs fsync-per-write at the same writer count (${ops} writes):`);
  console.table(groupRows);
  console.log(
    `\nGroup commit (best window) against C on this disk, ${pairs} alternating pairs (median, range): N threads each pwrite + fdatasync, and N pwrites + one fdatasync (the ceiling; also at the engine's own offsets):`,
  );
  console.table(referenceRows);
  return { rows, groupRows, referenceRows };
}
