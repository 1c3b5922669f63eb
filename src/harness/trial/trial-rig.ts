import type { TrialPlan } from '../../model/trial-plan.ts';
import type { FlakeyFault, SectorRange } from '../device/dm-table.ts';
import type { ExecResult, Target } from '../target/target.ts';
import {
  createFaultDevice,
  type FaultDevice,
  type LogWritesDevice,
} from '../device/fault-device.ts';
import {
  dropCachesScript,
  formatScript,
  fsck,
  mountScript,
  throwIfMountFailed,
  type MountOptions,
} from '../fs/filesystem.ts';
import { storeExtents, type FileExtent } from '../fs/store-extents.ts';
import { storeSize } from './engine-command.ts';
import { sh } from '../target/shell.ts';
import { storeIsDirectory, type EngineSpec } from '../../model/trial-plan.ts';
import { HarnessError } from '../errors.ts';
import {
  isMountedScript,
  killFromPidFileScript,
  unmountAfterCrashScript,
} from '../device/guards.ts';

const sizeOf = (plan: TrialPlan) => ({
  sizeBytes: plan.device.sizeMb * 1024 * 1024,
  sectorSize: plan.device.sectorSize,
});

/** The store's name under the mount point, for either kind of store. */
export const fileStoreName = 'store.db';
export const directoryStoreName = 'store';

/** The line (stdout and stderr) between a plug pull's output and its remount's. */
const remountBegins = '--- powercut: remount ---';

const storePath = (engine: EngineSpec, mountPoint: string): string =>
  `${mountPoint}/${storeIsDirectory(engine) ? directoryStoreName : fileStoreName}`;

const mountOptionsOf = (plan: TrialPlan): MountOptions => {
  const { type, mountOptions } = plan.filesystem;
  return { fs: type, ...(mountOptions ? { mountOptions } : {}) };
};

/**
 * The rig's set-up, run in the exec that makes the device (one round trip, the device's loop
 * checked ours in it): mkfs, mount, the store.
 */
const setUp =
  (plan: TrialPlan) =>
  (device: { path: string; names: { mountPoint: string } }): string => {
    const { mountPoint } = device.names;
    return [
      formatScript(device.path, { fs: plan.filesystem.type }),
      mountScript(device, mountPoint, mountOptionsOf(plan)),
      storeScript(plan.engine, storePath(plan.engine, mountPoint), plan.workload.pages),
    ].join('\n');
  };

/**
 * The engine's store, made durable before any fault: a zero-filled, synced file (`store.db`,
 * page stores), or an empty directory (`store/`) whose own entry is synced, for an engine
 * that creates its own files (store: directory).
 */
function storeScript(engine: EngineSpec, store: string, pages: number): string {
  if (storeIsDirectory(engine)) return sh`mkdir ${store} && sync -f ${store}`;
  const mb = Math.ceil(storeSize(engine, pages) / (1024 * 1024));
  // `sync -f`: this filesystem only (a plain `sync` would flush another slot's trial too).
  return sh`dd if=/dev/zero of=${store} bs=1M count=${mb} conv=fsync 2>/dev/null && sync -f ${store}`;
}

/**
 * The per-trial rig inside the target: fault device (loop + dm table), filesystem, mount point.
 * Everything it creates it destroys, also when the trial fails half-way.
 */
export class TrialRig<Device extends FaultDevice = FaultDevice> {
  readonly log: string[] = [];

  private constructor(
    private readonly target: Target,
    private readonly plan: TrialPlan,
    private readonly device: Device,
    readonly mountPoint: string,
  ) {
    this.store = storePath(plan.engine, mountPoint);
    this.storeFile = storeIsDirectory(plan.engine) ? undefined : this.store;
  }

  /** The engine's store, made in the device's set-up (storeScript). */
  readonly store: string;

  /** A rig on a dm-flakey device (linear until armed). */
  static async create(target: Target, plan: TrialPlan): Promise<TrialRig> {
    const device = await createFaultDevice(target, { ...sizeOf(plan), then: setUp(plan) });
    return new TrialRig(target, plan, device, device.mountPoint);
  }

  /** A rig on a device that records every write with dm-log-writes (it has marks). */
  static async createRecording(
    target: Target,
    plan: TrialPlan,
  ): Promise<TrialRig<LogWritesDevice>> {
    const device = await createFaultDevice(target, {
      ...sizeOf(plan),
      logWrites: true,
      then: setUp(plan),
    });
    return new TrialRig(target, plan, device, device.mountPoint);
  }

  /** The fault device (loop devices, names) for steps that work on it directly. */
  get faultDevice(): Device {
    return this.device;
  }

  async arm(fault: FlakeyFault): Promise<void> {
    const confined = fault.kind === 'corrupt_bio_byte' ? await this.corruptible() : undefined;
    await this.device.arm(confined ? { ...fault, within: confined } : fault);
    this.log.push(
      `armed ${fault.kind}${fault.schedule ? ` (up ${fault.schedule.up}s, down ${fault.schedule.down}s)` : ''}`,
    );
  }

  private readonly storeFile: string | undefined;
  private extents: ReturnType<typeof storeExtents> | undefined;
  private corruptRanges: Promise<SectorRange[] | undefined> | undefined;

  /**
   * Where the store file lies on the device, looked up once (the zero-filled, synced store
   * does not move). Ask before the crash: the lookup needs the filesystem mounted.
   */
  storeExtents(): ReturnType<typeof storeExtents> {
    if (!this.storeFile)
      return Promise.resolve({ reason: 'the store is a directory (its files come and go)' });
    this.extents ??= storeExtents(this.target, this.plan.filesystem.type, this.storeFile);
    return this.extents;
  }

  /** The store's extents where nothing works without them (`screen: store`, `misdirect:N`). */
  async requireStoreExtents(): Promise<FileExtent[]> {
    const found = await this.storeExtents();
    if ('reason' in found)
      throw new HarnessError(
        `fault.${this.plan.fault.screen === 'store' ? 'screen: store' : `explore: ${this.plan.fault.explore}`}: the store's extents: ${found.reason}`,
      );
    return found.extents;
  }

  /**
   * Where corruption may land: the store file's extents. A corrupted journal or inode table
   * would leave a filesystem that no longer mounts and nothing to judge; what is tested is
   * whether the engine notices its own pages changed. Otherwise the whole device, logged.
   */
  private corruptible(): Promise<SectorRange[] | undefined> {
    this.corruptRanges ??= (async () => {
      const found = await this.storeExtents();
      if ('reason' in found) {
        this.log.push(`corrupt_bio_byte spans the whole device: ${found.reason}`);
        return undefined;
      }
      const sectors = found.ranges.reduce((sum, r) => sum + r.sectors, 0);
      this.log.push(
        `corrupt_bio_byte confined to the store's ${found.ranges.length} extent(s), ${sectors} sectors`,
      );
      return found.ranges;
    })();
    return this.corruptRanges;
  }

  async disarm(): Promise<void> {
    await this.device.disarm();
    this.log.push('disarmed (linear table)');
  }

  /**
   * Power cut, in one round trip: from now on every write is dropped; the engine's tracer (if
   * it still lives) is killed, then the filesystem is unmounted. A filesystem that will not
   * unmount is a harness error: its cached pages are writes made after the cut, and they would
   * be read back (or written back once the table is linear) as if they had survived it.
   * `thenRemount`: remountAfterCrash's work follows in the same exec, once the unmount
   * succeeded (one round trip less); remountAfterCrash then only reports how it went.
   */
  async pullPlug(o: { thenRemount?: boolean } = {}): Promise<void> {
    const { pidFile } = this.device.names;
    const crash = `${killFromPidFileScript(pidFile)}\n${unmountAfterCrashScript(this.mountPoint)}`;
    const mountCommand = mountScript(this.device, this.mountPoint, this.mountOptions);
    const after = o.thenRemount
      ? [
          `(\n${crash}\n) || exit $?`,
          `echo '${remountBegins}'; echo '${remountBegins}' >&2`,
          this.device.linearReloadScript(),
          dropCachesScript,
          mountCommand,
        ].join('\n')
      : crash;
    const result = await this.device.reload({ kind: 'drop_writes' }, { after });
    const at = {
      out: result.stdout.indexOf(remountBegins),
      err: result.stderr.indexOf(remountBegins),
    };
    if (o.thenRemount ? at.out < 0 : result.code !== 0) {
      const why = (at.err < 0 ? result.stderr : result.stderr.slice(0, at.err)).trim();
      throw new HarnessError(
        `the plug was pulled but the filesystem did not unmount (${why || `exit ${result.code ?? result.signal}`}): what survived the crash cannot be read`,
      );
    }
    if (o.thenRemount) {
      const tail = (text: string, i: number) => text.slice(i + remountBegins.length + 1);
      this.remountedAtPull = {
        result: {
          ...result,
          stdout: tail(result.stdout, at.out),
          stderr: tail(result.stderr, at.err),
        },
        mountCommand,
      };
    }
  }

  /** The remount the plug pull already did (pullPlug's thenRemount), until it is reported. */
  private remountedAtPull: { result: ExecResult; mountCommand: string } | undefined;

  /**
   * In one round trip: back to the linear table (never under a mounted filesystem: its dirty
   * pages would reach the disk), caches dropped, mounted again (which replays the journal).
   * After a plug pull that remounted already, it only reports that mount (MountFailed).
   */
  async remountAfterCrash(): Promise<void> {
    const done = this.remountedAtPull;
    if (done) {
      this.remountedAtPull = undefined;
      throwIfMountFailed(done.result, done.mountCommand);
      return;
    }
    const stillMounted = sh`echo ${this.mountPoint}" is still mounted after the crash" >&2`;
    const mountCommand = mountScript(this.device, this.mountPoint, this.mountOptions);
    const result = await this.device.reload('linear', {
      before: `if ${isMountedScript(this.mountPoint)}; then ${stillMounted}; exit 1; fi`,
      after: `${dropCachesScript}\n${mountCommand}`,
    });
    throwIfMountFailed(result, mountCommand);
  }

  /**
   * After recovery: unmount and check the filesystem read-only. Its journal was replayed by the
   * mount, so the check sees what the kernel's own recovery left (fsck.ts: fs-corrupt). A
   * `readFirst` script runs before the unmount in the same round trip; its output is `read`.
   * `last`: nothing else will use the rig, so its removal goes in the same round trip too
   * (use() then reports that removal's failures; it runs nothing more).
   */
  async checkFilesystem(
    readFirst?: string,
    o: { last?: boolean } = {},
  ): Promise<{ clean: boolean; output: string; read?: string }> {
    const run = async (script: string, timeoutMs: number) =>
      (await this.device.destroyAfter(script, timeoutMs)) ??
      (await this.target.exec(script, { check: false, timeoutMs }));
    return fsck(this.target, this.device, this.plan.filesystem.type, {
      unmountFirst: this.mountPoint,
      ...(readFirst ? { readFirst } : {}),
      ...(o.last ? { run } : {}),
    });
  }

  /** The same check when the filesystem did not mount after the crash (nothing to unmount). */
  async checkUnmountedFilesystem(): Promise<{ clean: boolean; output: string }> {
    return fsck(this.target, this.device, this.plan.filesystem.type);
  }

  /**
   * Runs a trial's body on this rig, then removes the rig. What could not be undone is attached
   * to the result (`cleanupFailures`: a harness error for the trial) or to the error thrown.
   */
  async use<T extends { cleanupFailures?: string[]; log: string[] }>(
    body: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await body();
    } catch (error) {
      const failures = await this.destroy();
      if (failures.length === 0) throw error;
      throw new HarnessError(
        `${(error as Error).message}; and cleanup failed: ${failures.join('; ')}`,
        { cause: error },
      );
    }
    const failures = await this.destroy();
    if (failures.length === 0) return result;
    result.log.push(...failures.map((f) => `cleanup failed: ${f}`));
    return { ...result, cleanupFailures: failures };
  }

  /** Unmounts and removes the device; returns what could not be undone (reported, never hidden). */
  async destroy(): Promise<string[]> {
    // The device's own undo steps unmount (guarded, after killing our engine if it still runs).
    return this.device.destroy();
  }

  private get mountOptions(): MountOptions {
    return mountOptionsOf(this.plan);
  }
}
