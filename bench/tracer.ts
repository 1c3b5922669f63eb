import { createFaultDevice } from '../src/harness/device/fault-device.ts';
import type { Target } from '../src/harness/target/target.ts';
import { quote } from '../src/harness/trial/engine-command.ts';
import { EngineSession } from '../src/harness/trial/engine-session.ts';
import { feedOps, settled } from '../src/harness/trial/feed.ts';
import { installUserEngine } from '../src/harness/trial/guest-engine.ts';
import { tracedCommand, tracerPath } from '../src/harness/trial/syscall-stop.ts';
import { uploadedPath } from '../src/model/uploaded-path.ts';
import type { WorkloadOp } from '../src/model/workload.ts';

export type TracerBench = {
  ops: number;
  /** The C test engine (pwrite + fdatasync per write, to a tmpfs file), on its own. */
  plainSeconds: number;
  /** The same under the tracer, with stops that never fire: 4 traced syscalls per op (invoke, pwrite, fdatasync, ok). */
  tracedSeconds: number;
  perTracedSyscallUs: number;
  /** Under the tracer with a log-writes ack mark after every ack (stop the world + ioctl). */
  markAcksSeconds: number;
  perAckMarkUs: number;
  /**
   * How long the engine stands still per stop reported to the harness over ssh and resumed at
   * once: what an arm adds to a trial besides the table reload.
   */
  stops: number;
  perStopRoundTripMs: number;
};

const engine = {
  build: 'make -s -C test/fixtures/engines',
  upload: 'test/fixtures/engines/build/naive-engine',
};

/**
 * What the tracer costs under TCG, each figure beside its reference in the same run: the
 * engine alone, traced without stops, traced with an ack mark per ack, and traced with a stop
 * per ack handled by the harness over ssh. Timed by the engine's own clock inside the guest,
 * except the round trips, which are the harness's to pay.
 */
export async function benchTracer(target: Target, ops: number): Promise<TracerBench> {
  await installUserEngine(target, engine);
  const bin = uploadedPath(engine.upload);
  const lines = Array.from(
    { length: ops },
    (_, i) => `{"op":"write","id":${i + 1},"page":${i % 16},"value":"w${i + 1}"}`,
  ).join('\n');
  // From the engine's first event to its last, by its own monotonic clock (busybox's date has
  // no nanoseconds): the per-op cost, without process start-up.
  const timed = async (command: string, store: string): Promise<number> => {
    const r = await target.exec(
      `truncate -s 0 ${store} 2>/dev/null; truncate -s 1M ${store} 2>/dev/null; ${command} > /tmp/.powercut-bench-out && head -n 1 /tmp/.powercut-bench-out && tail -n 1 /tmp/.powercut-bench-out; rm -f /tmp/.powercut-bench-out`,
      { stdin: `${lines}\n`, timeoutMs: 600_000 },
    );
    const [first, last] = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { t: number }).t);
    return (last! - first!) / 1e9;
  };
  const device = await createFaultDevice(target, { sizeBytes: 64 << 20, logWrites: true });
  try {
    const tmpStore = `${device.names.backingDir}/bench.db`;
    const run = (store: string): string => `${bin} run --store ${store}`;
    const plainSeconds = await timed(run(tmpStore), tmpStore);
    // Stops that never come, on an ack, a store write and an fdatasync: the filter traps what
    // they need (it traps only what some stop needs), the four syscalls of every op.
    const never = [
      'never-ack:acks:999999',
      'never-w:store-write:999999:before',
      'never-s:fdatasync:999999:before',
    ];
    const tracedSeconds = await timed(
      `${tracerPath} --pidfile ${device.names.pidFile} --store ${device.names.backingDir}/ ${never.map((n) => `--stop ${n}`).join(' ')} -- ${quote(run(tmpStore))}`,
      tmpStore,
    );
    // The store on the log-writes device itself (no filesystem): every mark goes to its log.
    const markAcksSeconds = await timed(
      `${tracerPath} --pidfile ${device.names.pidFile} --mark-acks ${device.names.table} -- ${quote(run(device.path))}`,
      '/dev/null',
    );
    const stops = Math.min(ops, 20);
    const workload: WorkloadOp[] = Array.from({ length: ops }, (_, i) => ({
      op: 'write',
      id: i + 1,
      page: i % 16,
      value: `w${i + 1}`,
    }));
    const session = await EngineSession.start(
      target,
      tracedCommand(run(tmpStore), {
        pidFile: device.names.pidFile,
        stops: Array.from({ length: stops }, (_, i) => ({
          label: `s${i + 1}`,
          kind: 'acks' as const,
          n: i + 1,
        })),
      }),
    );
    await feedOps(session, workload);
    await session.waitUntil((h) => settled(h, workload, false), 600_000, 'every ack');
    session.closeInput();
    await session.finished(60_000);
    // How long the engine stood still per stop: from the stop (the tracer's clock, the same
    // monotonic clock as the engine's) to the engine's next event after the resume.
    const frozen: number[] = [];
    session.history.forEach((e, i) => {
      if (e.type !== 'stop') return;
      const next = session.history.slice(i + 1).find((n) => n.type === 'invoke');
      if (next) frozen.push((next.t - e.t) / 1e6);
    });
    return {
      ops,
      plainSeconds: round(plainSeconds, 3),
      tracedSeconds: round(tracedSeconds, 3),
      perTracedSyscallUs: round(((tracedSeconds - plainSeconds) / (4 * ops)) * 1e6, 1),
      markAcksSeconds: round(markAcksSeconds, 3),
      perAckMarkUs: round(((markAcksSeconds - tracedSeconds) / ops) * 1e6, 1),
      stops,
      perStopRoundTripMs: round(frozen.reduce((a, b) => a + b, 0) / Math.max(1, frozen.length), 1),
    };
  } finally {
    await device.destroy();
  }
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));
