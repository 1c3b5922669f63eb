import { execFileSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
} from 'node:fs';
import { createInterface } from 'node:readline';
import { fsckNotAsked, fsckOutcome, fsckScript } from '../harness/fs/filesystem.ts';
import * as native from '../native/index.ts';
import { entryFlags, parseLog, type LogEntry } from './format.ts';
import { applyEntries, fdReader } from './replay.ts';
import { firstUnwhole, readHead, recoverBuiltin, replayOrder } from './state-recovery.ts';
import type { ExplorerConfig, StateReport, StateRequest } from './explorer-protocol.ts';
import { startScriptWorkers, type ScriptWorkers } from './script-workers.ts';

export type { ExplorerConfig, StateReport, StateRequest } from './explorer-protocol.ts';

/**
 * Runs inside the target (bundled as /opt/powercut/powercut-explore.mjs): reads a recorded
 * dm-log-writes log and checks crash states one by one, without a reboot:
 *
 *   current.img = the log replayed up to the state's first dropped entry (advanced in log order)
 *   dm snapshot (transient) over current.img → the rest of the state's entries written into it
 *   → mount → engine recover + dump → raw pages → umount → read-only fsck (fsck: true) → snapshot removed
 *
 * The snapshot takes every write of fsck/mount/recover, so current.img only ever moves forward.
 * JSON lines: stdin gets the config, then `{"states":[...]}`; stdout gets `index`, one `state`
 * per state, then `done` (with the replay-vs-device self check).
 */
const out = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

function sh(command: string, options: { check?: boolean } = {}): { code: number; out: string } {
  try {
    const stdout = execFileSync('sh', ['-c', command], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    if (options.check !== false)
      throw new Error(`\`${command}\` failed: ${(e.stderr ?? '').trim().split('\n')[0]}`, {
        cause: error,
      });
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * Commands run by one long-lived `sh` (script-workers.ts), each in a subshell of it: a spawn
 * from node forks node's whole address space, 40-55 ms more per command than from `sh` under
 * TCG (measured in the embedded guest: `dmsetup version` 133-164 ms from node, 92-108 from a
 * shell), and a state runs five. Output (stdout and stderr) goes through a file. A command
 * with a tab or a newline in it is spawned from node as before.
 */
class Shell {
  private readonly worker: ScriptWorkers;

  constructor(private readonly outFile: string) {
    this.worker = startScriptWorkers('(eval "$2") >"$1" 2>&1', 1);
  }

  async run(
    command: string,
    options: { check?: boolean } = {},
  ): Promise<{ code: number; out: string }> {
    if (/[\t\n]/.test(command)) return sh(command, options);
    const code = await this.worker.run([this.outFile, command]);
    const out = readFileSync(this.outFile, 'utf8');
    if (code !== 0 && options.check !== false)
      throw new Error(`\`${command}\` failed: ${out.trim().split('\n')[0]}`);
    return { code, out };
  }

  close(): void {
    this.worker.close();
  }
}

/** glibc's dev_t for a device number (what `stat` gives as `rdev`). */
const deviceNumber = (major: number, minor: number): number =>
  (minor & 0xff) +
  (major & 0xfff) * 2 ** 8 +
  (minor & ~0xff) * 2 ** 12 +
  Math.floor(major / 0x1000) * 2 ** 44;

/** A loop device over one of this run's files (never anything else). */
async function attachLoop(shell: Shell, file: string, workDir: string): Promise<string> {
  if (!file.startsWith(`${workDir}/`)) throw new Error(`refusing to attach ${file}`);
  const loop = (await shell.run(`losetup --find --show ${file}`)).out.trim();
  if (!/^\/dev\/loop\d+$/.test(loop)) throw new Error(`losetup gave ${loop}`);
  return loop;
}

class Explorer {
  private readonly logFd: number;
  private readonly entries: LogEntry[];
  private readonly sectorSize: number;
  private readonly usedBytes: number;
  private readonly current: string;
  private readonly cow: string;
  private currentAt = 0;
  private loops: string[] = [];
  private readonly shell: Shell;

  constructor(private readonly config: ExplorerConfig) {
    this.logFd = openSync(config.log, 'r');
    const logBytes = Number(
      sh(`blockdev --getsize64 ${config.log} 2>/dev/null || stat -c %s ${config.log}`).out.trim(),
    );
    const index = parseLog(fdReader(this.logFd), logBytes);
    this.entries = index.entries;
    this.sectorSize = index.sectorSize;
    this.usedBytes = index.usedBytes;
    this.current = `${config.workDir}/current.img`;
    this.cow = `${config.workDir}/cow.img`;
    rmSync(this.current, { force: true });
    closeSync(openSync(this.current, 'w'));
    truncateSync(this.current, config.deviceBytes);
    closeSync(openSync(this.cow, 'w'));
    truncateSync(this.cow, config.deviceBytes);
    mkdirSync(config.mountPoint, { recursive: true });
    this.shell = new Shell(`${config.workDir}/shell.out`);
  }

  index(): unknown {
    return {
      type: 'index',
      sectorSize: this.sectorSize,
      logBytes: this.usedBytes,
      entries: this.entries.map((e) => [
        e.sector,
        e.nrSectors,
        (e.flush ? entryFlags.flush : 0) |
          (e.fua ? entryFlags.fua : 0) |
          (e.discard ? entryFlags.discard : 0) |
          (e.metadata ? entryFlags.metadata : 0),
        e.mark ?? null,
      ]),
    };
  }

  /** Replays entries [currentAt, to) onto current.img. */
  private advance(to: number): void {
    if (to < this.currentAt) throw new Error(`states out of order (${to} < ${this.currentAt})`);
    const fd = openSync(this.current, 'r+');
    try {
      applyEntries(
        fdReader(this.logFd),
        fd,
        this.entries.slice(this.currentAt, to),
        this.sectorSize,
      );
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.currentAt = to;
  }

  async check(state: StateRequest): Promise<StateReport> {
    const start = Date.now();
    const skip = new Set(state.dropped);
    this.advance(firstUnwhole(state));
    const c = this.config;
    // Attached once: current.img is only written while no snapshot exists, and the snapshot
    // reads it through the loop's bios (no block-device page cache to go stale).
    if (this.loops.length === 0)
      this.loops = [
        await attachLoop(this.shell, this.current, c.workDir),
        await attachLoop(this.shell, this.cow, c.workDir),
      ];
    const [origin, cowLoop] = this.loops as [string, string];
    // The snapshot through dm's ioctls and a device node of this run's own, and the mount
    // through mount(2) (the mount command only where the scenario gives mount options): no
    // process for any of them, where dmsetup alone had cost ~90 ms a start under TCG.
    let device: string;
    let mounted = false;
    let created = false;
    try {
      // current.img is truncated to deviceBytes: its size in 512-byte sectors, without a spawn.
      const sectors = c.deviceBytes / 512;
      const dev = native.dmCreate(c.table, 'snapshot', sectors, `${origin} ${cowLoop} N 8`);
      created = true;
      device = this.deviceNode(dev);
      const fd = openSync(device, 'r+');
      try {
        applyEntries(
          fdReader(this.logFd),
          fd,
          this.entries.slice(this.currentAt, state.at),
          this.sectorSize,
          skip,
          state,
        );
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // Mount (the kernel's own recovery replays the journal), recover, dump; then the
      // read-only filesystem check of what that recovery left.
      if (c.mountOptions)
        await this.shell.run(`mount -t ${c.fs} -o ${c.mountOptions} ${device} ${c.mountPoint}`);
      else native.mountDevice(device, c.mountPoint, c.fs);
      mounted = true;
      const recovered = await this.recoverAndDump();
      native.unmount(c.mountPoint);
      mounted = false;
      const report: StateReport = {
        type: 'state',
        id: state.id,
        ms: 0,
        fsck: c.fsck ? await this.fsck(device) : fsckNotAsked,
        ...recovered,
      };
      report.ms = Date.now() - start;
      return report;
    } finally {
      if (mounted) {
        try {
          native.unmount(c.mountPoint);
        } catch {
          // the state has failed already; the snapshot's removal below is forced if need be
        }
      }
      if (created) await this.removeSnapshot();
      rmSync(this.ownNode, { force: true });
    }
  }

  /** A node this explorer makes for the snapshot where devtmpfs has none: in the run's own directory. */
  private get ownNode(): string {
    return `${this.config.workDir}/state-device`;
  }

  /**
   * The snapshot's block device: devtmpfs's `/dev/dm-<minor>` where it is that very device
   * (nothing of the run's own to make), else a node made in the run's work directory.
   */
  private deviceNode(dev: { major: number; minor: number }): string {
    const kernel = `/dev/dm-${dev.minor}`;
    try {
      const st = statSync(kernel);
      if (st.isBlockDevice() && st.rdev === deviceNumber(dev.major, dev.minor)) return kernel;
    } catch {
      // no devtmpfs node: make one
    }
    rmSync(this.ownNode, { force: true });
    native.mknodBlock(this.ownNode, dev.major, dev.minor);
    return this.ownNode;
  }

  /**
   * Removes the state's snapshot, retrying while it is busy (as `dmsetup remove --retry`: a
   * udev rule or a just-closed fsck may hold it for a moment), then forcing it.
   */
  private async removeSnapshot(): Promise<void> {
    for (let attempt = 0; attempt < 25; attempt++) {
      try {
        native.dmRemove(this.config.table);
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'ENXIO' || code === 'ENODEV') return; // already gone
        if (code !== 'EBUSY') break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await this.shell.run(this.removeSnapshotCommand(), { check: false });
  }

  private async fsck(device: string): Promise<{ clean: boolean; output: string }> {
    const r = await this.shell.run(fsckScript(this.config.fs, device), { check: false });
    return fsckOutcome(r.code, r.out);
  }

  private async recoverAndDump(): Promise<Partial<StateReport>> {
    const c = this.config;
    const store = `${c.mountPoint}/${c.storeName}`;
    if (c.engine.kind === 'external') {
      const raw = c.rawBytes ? readHead(store, c.rawBytes) : undefined;
      const recover = await this.shell.run(c.engine.recover, { check: false });
      const dump = await this.shell.run(`${c.engine.dump} 2>/dev/null`, { check: false });
      return {
        ...(recover.code === 0
          ? {}
          : { recoverError: recover.out.trim().split('\n')[0] || `exit ${recover.code}` }),
        dumpStdout: dump.out,
        ...(raw ? { raw } : {}),
      };
    }
    return recoverBuiltin(store, c.engine, c.rawBytes);
  }

  private removeSnapshotCommand(): string {
    return `dmsetup remove --retry ${this.config.table} 2>/dev/null || dmsetup remove --force ${this.config.table} 2>/dev/null`;
  }

  /** Teardown, also from a signal handler: spawned from node, one after another. */
  private release(): void {
    sh(this.removeSnapshotCommand(), { check: false });
    for (const loop of this.loops) sh(`losetup -d ${loop}`, { check: false });
    this.loops = [];
  }

  /** The whole log replayed must be the recorded device, byte for byte. */
  selfCheck(): boolean {
    this.advance(this.entries.length);
    const a = openSync(this.current, 'r');
    const b = openSync(this.config.data, 'r');
    try {
      const ra = fdReader(a);
      const rb = fdReader(b);
      const step = 1 << 20;
      for (let offset = 0; offset < this.config.deviceBytes; offset += step) {
        if (Buffer.compare(ra(offset, step), rb(offset, step)) !== 0) return false;
      }
      return true;
    } finally {
      closeSync(a);
      closeSync(b);
    }
  }

  close(): void {
    this.shell.close();
    rmSync(this.ownNode, { force: true });
    sh(`umount ${this.config.mountPoint} 2>/dev/null`, { check: false });
    this.release();
    closeSync(this.logFd);
    rmSync(this.current, { force: true });
    rmSync(this.cow, { force: true });
  }
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[
    Symbol.asyncIterator
  ]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('stdin ended');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  const explorer = new Explorer((await next()) as unknown as ExplorerConfig);
  const stop = (): void => {
    explorer.close();
    process.exit(130);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    out(explorer.index());
    const { states } = (await next()) as { states: StateRequest[] };
    const order = replayOrder(states);
    for (const state of order) {
      try {
        out(await explorer.check(state));
      } catch (error) {
        out({
          type: 'state',
          id: state.id,
          ms: 0,
          fsck: { clean: false, output: '' },
          error: (error as Error).message,
        });
      }
    }
    out({ type: 'done', replayMatchesDevice: explorer.selfCheck() });
  } finally {
    explorer.close();
  }
}

if (process.argv[2] === 'serve') {
  main().catch((error: Error) => {
    process.stderr.write(`powercut-explore: ${error.message}\n`);
    process.exitCode = 1;
  });
}
