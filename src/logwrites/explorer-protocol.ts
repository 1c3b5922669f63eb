import type { EngineOptions } from '../engine/engine.ts';
import type { FilesystemType } from '../harness/fs/filesystem.ts';
import type { DumpEntry } from '../model/history.ts';
import type { DecodedPage } from '../engine/page-format.ts';

/**
 * What the host and the guest explorer (guest-explorer.ts, in the target) say to each other,
 * as JSON lines: the host sends the config, then `{"states":[StateRequest...]}`; the explorer
 * answers `index`, one StateReport per state, then `done`.
 */

export type ExplorerConfig = {
  /** Directory of this run's files (under /var/tmp/powercut/); current/cow images go here. */
  workDir: string;
  log: string;
  /** The recorded device's backing file: after the run it must equal the full replay. */
  data: string;
  deviceBytes: number;
  /** The dm table for the state snapshot (powercut-<runId>-state). */
  table: string;
  mountPoint: string;
  fs: FilesystemType;
  mountOptions?: string;
  /** The store's path relative to the filesystem root. */
  storeName: string;
  engine:
    | { kind: 'builtin'; mode: string; direct: boolean; options: EngineOptions }
    | { kind: 'external'; recover: string; dump: string };
  /** The read-only filesystem check of every state, where the scenario asks for it. */
  fsck?: boolean;
  /** Built-in direct-layout engines: both on-disk copies of each page, for the integrity checker. */
  rawBytes?: number;
};

export type StateRequest = {
  id: string;
  at: number;
  dropped: number[];
  torn?: { entry: number; sectors: number };
  misdirect?: { entry: number; sector: number };
};

export type StateReport = {
  type: 'state';
  id: string;
  ms: number;
  fsck: { clean: boolean; output: string };
  recoverError?: string;
  dump?: DumpEntry[];
  dumpStdout?: string;
  raw?: string;
  /** The same bytes as `raw`, from a screen in this process (never on the wire: no base64). */
  rawBytes?: Uint8Array;
  /**
   * Each page's raw copies as a screen in this process keeps them, with their memoized decode
   * (never on the wire): what `raw` gives the integrity check, without a copy of the store.
   */
  rawPages?: ReadonlyMap<number, readonly Uint8Array[]>;
  decodeRaw?: (bytes: Uint8Array, page: number) => DecodedPage;
  error?: string;
};
