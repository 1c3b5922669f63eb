import { HarnessError } from '../errors.ts';
import { registerCleanup } from '../cleanup.ts';
import type { Target } from '../target/target.ts';
import { flakeyTable, linearTable, type FlakeyFault } from './dm-table.ts';
import { flakeyFeatures } from './features.ts';
import { verifyOwnLoop } from './loop-check.ts';
import { resourceNames, type ResourceNames } from './names.ts';

/**
 * backing file → loop device → dm table `powercut-<runId>` (linear until armed). Lifecycle in
 * the types: createFaultDevice → FaultDevice; arm() → the table is flakey until disarm().
 */
export interface FaultDevice {
  readonly path: string;
  readonly mountPoint: string;
  readonly loopDevice: string;
  readonly names: ResourceNames;
  arm(fault: FlakeyFault): Promise<void>;
  disarm(): Promise<void>;
  destroy(): Promise<void>;
}

export async function createFaultDevice(
  target: Target,
  options: { runId: string; sizeBytes: number; sectorSize?: number },
): Promise<FaultDevice> {
  const names = resourceNames(options.runId);
  const undo: (() => Promise<void>)[] = [];
  const unregister = registerCleanup(`fault device ${names.table}`, async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  });
  try {
    await target.exec(
      `mkdir -p ${names.backingDir} && truncate -s ${options.sizeBytes} ${names.backingFile}`,
    );
    undo.push(async () => void (await target.exec(`rm -rf ${names.backingDir}`, { check: false })));
    const sectorArg =
      options.sectorSize && options.sectorSize !== 512
        ? ` --sector-size ${options.sectorSize}`
        : '';
    const loop = (
      await target.exec(`losetup --find --show${sectorArg} ${names.backingFile}`)
    ).stdout.trim();
    if (!/^\/dev\/loop\d+$/.test(loop))
      throw new HarnessError(`losetup gave ${JSON.stringify(loop)}, not a loop device`);
    undo.push(async () => void (await target.exec(`losetup -d ${loop}`, { check: false })));
    await verifyOwnLoop(target, loop, names.backingFile);
    const sectors = Number((await target.exec(`blockdev --getsz ${loop}`)).stdout.trim());
    await target.exec(`dmsetup create ${names.table} --table '${linearTable(sectors, loop)}'`);
    undo.push(async () => {
      await target.exec(
        `dmsetup remove --retry ${names.table} 2>/dev/null || dmsetup remove --force ${names.table}`,
        {
          check: false,
        },
      );
    });
    await target.exec(`mkdir -p ${names.mountPoint}`);
    undo.push(async () => {
      // Whatever still runs on the mount (an interrupted engine) goes first, or umount fails.
      await target.exec(
        `fuser -km ${names.mountPoint} 2>/dev/null; umount ${names.mountPoint} 2>/dev/null || umount -l ${names.mountPoint} 2>/dev/null; rmdir ${names.mountPoint} 2>/dev/null; true`,
        { check: false },
      );
    });

    const reload = async (table: string): Promise<void> => {
      // --nolockfs: do not freeze/flush the filesystem first, which would defeat the power cut.
      await target.exec(
        `dmsetup suspend --nolockfs ${names.table} && dmsetup load ${names.table} --table '${table}' && dmsetup resume ${names.table}`,
      );
    };
    let destroyed = false;
    return {
      path: names.mapperPath,
      mountPoint: names.mountPoint,
      loopDevice: loop,
      names,
      arm: async (fault) => {
        const features = await flakeyFeatures(target);
        if (
          !features.has(fault.kind === 'power_cut' ? 'drop_writes' : fault.kind) &&
          fault.kind !== 'error_reads'
        ) {
          throw new HarnessError(`fault ${fault.kind} is not supported by this kernel's dm-flakey`);
        }
        await reload(flakeyTable(sectors, loop, fault, features.has('error_reads')));
      },
      disarm: () => reload(linearTable(sectors, loop)),
      destroy: async () => {
        if (destroyed) return;
        destroyed = true;
        for (const step of undo.reverse()) await step().catch(() => undefined);
        unregister();
      },
    };
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    unregister();
    throw error;
  }
}
