import { HarnessError } from '../errors.ts';
import type { ExecResult, Target } from '../target/target.ts';
import { checkResult } from '../target/exec-result.ts';
import { UndoStack } from '../undo-stack.ts';
import { flakeyTable, linearTable, logWritesTable, type FlakeyFault } from './dm-table.ts';
import { flakeyFeatures } from './features.ts';
import {
  detachLoopIfBackedByScript,
  detachOwnLoopsScript,
  killFromPidFileScript,
  loopListScript,
  removeOwnDirScript,
  removeOwnTableScript,
  requireOwnLoopScript,
  unmountOwnScript,
} from './guards.ts';
import { parseLoopLines } from './loop-check.ts';
import { resourceNames, type ResourceNames } from './names.ts';
import { ownership } from './ownership.ts';
import { dmToolPath } from './dm-tool.ts';
import { shellQuote } from '../target/shell.ts';

export { dmToolPath };

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
  /**
   * A table change with shell run just before and after it in the same exec (one round trip):
   * `before` failing stops everything (nothing reloaded), a failed reload throws, and what
   * `after` exits with is returned (its output too).
   */
  reload(to: FlakeyFault | 'linear', around: AroundReload): Promise<ExecResult>;
  /**
   * Shell that swaps the table back to linear (exits reloadExit.reloadFailed when it cannot),
   * for a reload's `after` that goes on to a second change in the same exec (the plug pull
   * followed by the remount).
   */
  linearReloadScript(): string;
  /** Removes everything the device created, newest first; returns what could not be undone. */
  destroy(): Promise<string[]>;
  /**
   * Runs `script` and then destroy()'s removal in the same exec (a trial's last check and its
   * teardown, one round trip); returns what the script printed and exited with. Undefined,
   * running nothing, when the removal cannot go in one exec (destroy() as usual then).
   */
  destroyAfter(
    script: string,
    timeoutMs: number,
  ): Promise<Pick<ExecResult, 'code' | 'stdout' | 'stderr'> | undefined>;
}

/**
 * A device that records every write with dm-log-writes (until armed: the plug pull replaces
 * the recording table). Only it has marks: a flakey device cannot be asked for one.
 */
export interface LogWritesDevice extends FaultDevice {
  /** The loop device holding the log. */
  readonly logLoopDevice: string;
  /** Appends a mark to the log (`dmsetup message ... mark NAME`). */
  mark(name: string): Promise<void>;
}

export type AroundReload = { before?: string; after?: string };

/** The exit codes of a reload's own parts, apart from anything `after` may exit with. */
export const reloadExit = { beforeFailed: 91, reloadFailed: 92 } as const;

/**
 * Shell loading `table` into the dm table `name` (exits reloadExit.reloadFailed when it does
 * not load): the table printed one quoted word a line into `powercut-dm reload`.
 */
const reloadScript = (name: string, table: string): string => {
  const lines = table
    .split('\n')
    .filter((line) => line !== '')
    .map(shellQuote);
  return `printf '%s\\n' ${lines.join(' ')} | ${dmToolPath} reload ${name} || exit ${reloadExit.reloadFailed}`;
};

type FaultDeviceOptions = {
  sizeBytes: number;
  sectorSize?: number;
  /** Record every write with dm-log-writes (to a second loop device) instead of a linear table. */
  logWrites?: boolean;
  /**
   * Shell run in the same exec once the table is up (mkfs, mount, the store: one round trip
   * for the whole set-up). It may mount on the device's mount point and start nothing else:
   * a failure undoes the mount, the table and the loop devices.
   */
  then?: (device: { path: string; names: ResourceNames }) => string;
};

/**
 * Creates a fault device under a fresh run id of this process's ownership of `target`. Every
 * undo step is guarded (see guards.ts): it acts only on what this device created.
 */
export async function createFaultDevice(
  target: Target,
  options: FaultDeviceOptions & { logWrites: true },
): Promise<LogWritesDevice>;
export async function createFaultDevice(
  target: Target,
  options: FaultDeviceOptions & { logWrites?: false },
): Promise<FaultDevice>;
export async function createFaultDevice(
  target: Target,
  options: FaultDeviceOptions,
): Promise<FaultDevice | LogWritesDevice> {
  const names = resourceNames((await ownership(target)).newRunId());
  const undo = new UndoStack(`fault device ${names.table}`);
  const step = (label: string, script: string): void => undo.pushScript(label, target, script);
  try {
    const sectorArg =
      options.sectorSize && options.sectorSize !== 512
        ? ` --sector-size ${options.sectorSize}`
        : '';
    const files = [names.backingFile, ...(options.logWrites ? [names.logFile] : [])];
    // Undone by backing file, so a script that stopped half-way is cleaned up too: only loop
    // devices over our own files are detached.
    step(
      'backing files and loop devices',
      `${detachOwnLoopsScript(files)}\n${removeOwnDirScript(names.backingDir)}`,
    );
    const sectors = options.sizeBytes / 512;
    // The shell names of the loop devices losetup hands out: the data device's, the log's.
    const vars = ['$L', '$LL'].slice(0, files.length);
    const initialTable = options.logWrites
      ? logWritesTable(sectors, '$L', '$LL')
      : linearTable(sectors, '$L');
    step('dm table', removeOwnTableScript(names.table));
    // Guarded no-ops until `then` mounts or a trial starts its engine.
    step('mount', unmountOwnScript(names.mountPoint));
    // Whatever of ours still runs on the mount (an interrupted engine, by its recorded pid and
    // start time) goes first, or the unmount would find the filesystem busy.
    step('engine process', killFromPidFileScript(names.pidFile));
    // One round trip: files, loop devices (the log's sparse, twice the device: room for mkfs
    // and the run), each checked ours in the same script before the dm table goes over them
    // (powercut-dm's create where it is installed, else dmsetup's), the loop listing to verify
    // them again by, then `then`.
    const then = options.then?.({ path: names.mapperPath, names });
    const created = await target.exec(
      [
        'set -e',
        `mkdir -p ${names.backingDir}`,
        `truncate -s ${options.sizeBytes} ${names.backingFile}`,
        ...(options.logWrites ? [`truncate -s ${2 * options.sizeBytes} ${names.logFile}`] : []),
        ...files.map((f, i) => `${vars[i]!.slice(1)}=$(losetup --find --show${sectorArg} ${f})`),
        ...files.map((f, i) => requireOwnLoopScript(vars[i]!, f)),
        `if [ -x ${dmToolPath} ]; then printf '%s\\n' "${initialTable}" | ${dmToolPath} create ${names.table}`,
        `else dmsetup create ${names.table} --table "${initialTable}"; fi`,
        `mkdir -p ${names.mountPoint}`,
        ...vars.map((v) => `echo "${v}"`),
        'echo ---',
        loopListScript(),
        'echo ---',
        ...(then ? [then] : []),
      ].join('\n'),
      then ? { timeoutMs: 180_000 } : {},
    );
    const [devices = '', listing = ''] = created.stdout.split('---\n');
    const loops = devices.trim().split('\n');
    const owners = parseLoopLines(listing);
    for (const [i, device] of loops.entries()) {
      if (!/^\/dev\/loop\d+$/.test(device))
        throw new HarnessError(`losetup gave ${JSON.stringify(device)}, not a loop device`);
      if (owners.get(device) !== files[i])
        throw new HarnessError(
          `refusing ${device}: backed by ${owners.get(device) ?? 'nothing'}, not ${files[i]}`,
        );
    }
    const loop = loops[0]!;
    const logLoop = options.logWrites ? loops[1] : undefined;

    if (logLoop) {
      const own = new Set([loop, logLoop]);
      undo.push('crash-state explorer leftovers', async () => {
        // What a crash-state explorer left: its snapshot table, mount and loop devices.
        await target.exec(
          `${unmountOwnScript(names.stateMountPoint)}\n${removeOwnTableScript(names.stateTable)}`,
          { timeoutMs: 120_000 },
        );
        const loops = parseLoopLines((await target.exec(loopListScript())).stdout);
        const extra = [...loops]
          .filter(
            ([device, backing]) => backing.startsWith(`${names.backingDir}/`) && !own.has(device),
          )
          .map(([device, backing]) => detachLoopIfBackedByScript(device, backing));
        if (extra.length > 0) await target.exec(extra.join('\n'));
      });
    }

    // One table change at a time, in the order asked: an arm still in flight (its feature
    // probe, its suspend/load/resume) can never interleave with the plug pull or a disarm.
    let queue: Promise<unknown> = Promise.resolve();
    const serially = <T>(change: () => Promise<T>): Promise<T> => {
      const next = queue.then(change);
      queue = next.catch(() => undefined);
      return next;
    };
    const reload = async (table: string, around: AroundReload = {}): Promise<ExecResult> => {
      // Suspended without a freeze/flush of the filesystem (dmsetup's --nolockfs), which would
      // defeat the power cut. The table in the script, a quoted word a line: it may have
      // several lines (a fault confined to some ranges), and a command without stdin runs in
      // the target's command shell. A table that does not load still resumes the device (on
      // its old table): a suspended device would hang every later I/O, the cleanup's among them.
      const t = names.table;
      const { beforeFailed, reloadFailed } = reloadExit;
      const script = [
        ...(around.before ? [`(\n${around.before}\n) || exit ${beforeFailed}`] : []),
        reloadScript(t, table),
        ...(around.after ? [around.after] : []),
      ].join('\n');
      const result = await target.exec(script, { check: false, timeoutMs: 120_000 });
      const why = result.stderr.trim().split('\n').at(-1) ?? '';
      if (result.code === beforeFailed)
        throw new HarnessError(`before reloading ${t}: ${why || 'failed'} (nothing reloaded)`);
      if (result.code === reloadFailed) throw new HarnessError(`reloading ${t} failed: ${why}`);
      if (!around.after) checkResult(result, true);
      return result;
    };
    const tableOf = async (to: FlakeyFault | 'linear'): Promise<string> => {
      if (to === 'linear') return linearTable(sectors, loop);
      const features = await flakeyFeatures(target);
      if (
        !features.has(to.kind === 'power_cut' ? 'drop_writes' : to.kind) &&
        to.kind !== 'error_reads'
      )
        throw new HarnessError(`fault ${to.kind} is not supported by this kernel's dm-flakey`);
      return flakeyTable(sectors, loop, to, features.has('error_reads'));
    };
    const device: FaultDevice = {
      path: names.mapperPath,
      mountPoint: names.mountPoint,
      loopDevice: loop,
      names,
      arm: (fault) =>
        serially(async () => {
          await reload(await tableOf(fault));
        }),
      disarm: () => serially(async () => void (await reload(await tableOf('linear')))),
      reload: (to, around) => serially(async () => reload(await tableOf(to), around)),
      linearReloadScript: () => reloadScript(names.table, linearTable(sectors, loop)),
      destroy: () => undo.run(),
      destroyAfter: (script, timeoutMs) => undo.runAfter(target, script, timeoutMs),
    };
    if (!logLoop) return device;
    const recording: LogWritesDevice = {
      ...device,
      logLoopDevice: logLoop,
      mark: async (name) => {
        if (!/^[\w:.-]{1,64}$/.test(name))
          throw new HarnessError(`invalid mark name ${JSON.stringify(name)}`);
        await target.exec(`dmsetup message ${names.table} 0 mark ${name}`);
      },
    };
    return recording;
  } catch (error) {
    const failures = await undo.run();
    if (failures.length > 0)
      throw new HarnessError(
        `${(error as Error).message}; and its cleanup failed: ${failures.join('; ')}`,
        { cause: error },
      );
    throw error;
  }
}
