import type { TrialPlan } from '../../scenario/trial-plan.ts';
import type { FlakeyFault } from '../device/dm-table.ts';
import type { Target } from '../target/target.ts';
import { createFaultDevice, type FaultDevice } from '../device/fault-device.ts';
import { dropCaches, fsck, mkfs, mount, umount } from '../fs/filesystem.ts';
import { quote } from './engine-command.ts';

/**
 * The per-trial rig inside the target: fault device (loop + dm table), filesystem, mount point.
 * Everything it creates it destroys, also when the trial fails half-way.
 */
export class TrialRig {
  readonly log: string[] = [];
  private mounted = false;

  private constructor(
    private readonly target: Target,
    private readonly plan: TrialPlan,
    private readonly device: FaultDevice,
    readonly mountPoint: string,
  ) {}

  static async create(
    target: Target,
    plan: TrialPlan,
    runId: string,
    options: { logWrites?: boolean } = {},
  ): Promise<TrialRig> {
    const device = await createFaultDevice(target, {
      runId,
      sizeBytes: plan.device.sizeMb * 1024 * 1024,
      sectorSize: plan.device.sectorSize,
      ...(options.logWrites ? { logWrites: true } : {}),
    });
    const rig = new TrialRig(target, plan, device, device.mountPoint);
    try {
      await mkfs(target, device, { fs: plan.filesystem.type });
      await rig.mountFs();
    } catch (error) {
      await rig.destroy();
      throw error;
    }
    return rig;
  }

  /** Zero-fills the store and syncs it, so its blocks and metadata are durable before any fault. */
  async preallocate(store: string, bytes: number): Promise<void> {
    const mb = Math.ceil(bytes / (1024 * 1024));
    await this.target.exec(
      `dd if=/dev/zero of=${quote(store)} bs=1M count=${mb} conv=fsync 2>/dev/null && sync ${quote(store)} 2>/dev/null; sync`,
      { timeoutMs: 120_000 },
    );
  }

  /** The fault device (loop devices, names) for steps that work on it directly. */
  get faultDevice(): FaultDevice {
    return this.device;
  }

  async arm(fault: FlakeyFault): Promise<void> {
    await this.device.arm(fault);
    this.log.push(
      `armed ${fault.kind}${fault.schedule ? ` (up ${fault.schedule.up}s, down ${fault.schedule.down}s)` : ''}`,
    );
  }

  async disarm(): Promise<void> {
    await this.device.disarm();
    this.log.push('disarmed (linear table)');
  }

  /** Power cut: from now on every write is dropped; then the filesystem is unmounted. */
  async pullPlug(): Promise<void> {
    await this.device.arm({ kind: 'drop_writes' });
    await umount(this.target, this.mountPoint).catch((e: Error) =>
      this.log.push(`umount after crash: ${e.message}`),
    );
    this.mounted = false;
  }

  /** Back to the linear table, caches dropped, fsck (read-only), mounted again. */
  async remountAfterCrash(): Promise<{ clean: boolean; output: string }> {
    await this.device.disarm();
    await dropCaches(this.target);
    const result = await fsck(this.target, this.device, this.plan.filesystem.type);
    await this.mountFs();
    return result;
  }

  async destroy(): Promise<void> {
    if (this.mounted) await umount(this.target, this.mountPoint).catch(() => undefined);
    this.mounted = false;
    await this.device.destroy();
  }

  private async mountFs(): Promise<void> {
    await mount(this.target, this.device, this.mountPoint, {
      fs: this.plan.filesystem.type,
      ...(this.plan.filesystem.mountOptions
        ? { mountOptions: this.plan.filesystem.mountOptions }
        : {}),
    });
    this.mounted = true;
  }
}
