import { createFaultDevice } from '../src/harness/device/fault-device.ts';
import { mkfs, mount, umount } from '../src/harness/fs/filesystem.ts';
import type { Target } from '../src/harness/target/target.ts';
import { engineCommand, storeSize } from '../src/harness/trial/engine-command.ts';
import { EngineSession } from '../src/harness/trial/engine-session.ts';
import { feedOps, settled } from '../src/harness/trial/feed.ts';
import type { WorkloadOp } from '../src/model/workload.ts';
import type { BuiltinEngineSpec } from '../src/model/trial-plan.ts';

export type GuestEngineRow = {
  engine: string;
  direct: boolean;
  writers: number;
  windowUs: number;
  writes: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Bytes the dm device saw written (filesystem journal included) per logical page byte. */
  deviceWriteAmplification: number;
};

type Config = Pick<BuiltinEngineSpec, 'mode' | 'direct' | 'writers' | 'batchWindowUs'>;

const configs: Config[] = [
  ...[false, true].flatMap((direct) =>
    (['plain', 'fsync', 'cow'] as const).map((mode) => ({
      mode,
      direct,
      writers: 1,
      batchWindowUs: 0,
    })),
  ),
  ...[1, 4, 16].map((writers) => ({
    mode: 'group-commit' as const,
    direct: false,
    writers,
    batchWindowUs: 200,
  })),
];

/**
 * The engines inside the guest, on a file of an ext4 filesystem on the powercut dm device (the
 * trial setting, under TCG): throughput and latency from the engine's own event timestamps,
 * and write amplification from the dm device's sectors-written counter.
 */
export async function benchGuestEngines(target: Target, writes: number): Promise<GuestEngineRow[]> {
  const rows: GuestEngineRow[] = [];
  const pages = 32;
  for (const c of configs) {
    const spec: BuiltinEngineSpec = {
      kind: 'builtin',
      mode: c.mode,
      direct: c.direct,
      pageSize: 4096,
      writers: c.writers,
      batchWindowUs: c.batchWindowUs,
      batchMax: 64,
    };
    const device = await createFaultDevice(target, {
      sizeBytes: 128 << 20,
    });
    try {
      await mkfs(target, device, { fs: 'ext4', eagerInit: true });
      await mount(target, device, device.mountPoint, { fs: 'ext4' });
      const store = `${device.mountPoint}/store.db`;
      const mb = Math.ceil(storeSize(spec, pages) / (1 << 20));
      await target.exec(
        `dd if=/dev/zero of=${store} bs=1M count=${mb} conv=fsync 2>/dev/null; sync`,
      );
      const sectorsWritten = async (): Promise<number> => {
        const r = await target.exec(
          `cat /sys/dev/block/$(dmsetup info -c --noheadings -o major,minor --separator : ${device.names.table} | tr -d ' ')/stat`,
        );
        return Number(r.stdout.trim().split(/\s+/)[6]);
      };
      const before = await sectorsWritten();
      const ops = workload(writes, pages, c.mode === 'cow');
      const session = await EngineSession.start(target, engineCommand(spec, 'run', store, pages));
      await feedOps(session, ops);
      const transactional = c.mode === 'cow';
      await session.waitUntil((h) => settled(h, ops, transactional), 600_000, 'every ack');
      session.closeInput();
      await session.finished(60_000);
      await target.exec('sync');
      const deviceBytes = ((await sectorsWritten()) - before) * 512;

      const invoked = new Map<number, number>();
      const latencies: number[] = [];
      let first = Infinity;
      let last = 0;
      for (const e of session.history) {
        if (e.type === 'invoke') {
          invoked.set(e.id, e.t);
          first = Math.min(first, e.t);
        } else if (e.type === 'ok') {
          last = Math.max(last, e.t);
          const t0 = invoked.get(e.id);
          if (t0 !== undefined) latencies.push((e.t - t0) / 1000);
        }
      }
      latencies.sort((a, b) => a - b);
      const pct = (p: number): number =>
        Math.round(
          latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0,
        );
      rows.push({
        engine: c.mode,
        direct: c.direct,
        writers: c.writers,
        windowUs: c.batchWindowUs,
        writes,
        opsPerSec: Math.round(writes / ((last - first) / 1e9)),
        // cow acks commits: its latencies are per commit (4 writes).
        p50Us: pct(0.5),
        p99Us: pct(0.99),
        deviceWriteAmplification: Number((deviceBytes / (writes * 4096)).toFixed(2)),
      });
      await umount(target, device.mountPoint);
    } finally {
      await device.destroy();
    }
  }
  return rows;
}

function workload(writes: number, pages: number, commits: boolean): WorkloadOp[] {
  const ops: WorkloadOp[] = [];
  let id = 0;
  for (let i = 1; i <= writes; i++) {
    ops.push({ op: 'write', id: ++id, page: (i * 7) % pages, value: `g${i}` });
    if (commits && i % 4 === 0) ops.push({ op: 'commit', id: ++id });
  }
  if (commits && writes % 4 !== 0) ops.push({ op: 'commit', id: id + 1 });
  return ops;
}
