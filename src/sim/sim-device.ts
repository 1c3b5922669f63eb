import { createHash } from 'node:crypto';
import { IoError, type StoreFile } from '../engine/store-file.ts';
import type { ImageSource } from './image-file.ts';
import { mulberry32 } from './prng.ts';
import { PagedImage } from './paged-image.ts';
import { Slab } from './slab.ts';

export type SimFault = 'drop_writes' | 'error_writes' | 'corrupt_bio_byte' | 'error_reads';

/** Every draw's overlay is carved from here (see Slab). */
const overlays = new Slab();

/**
 * Page caches of released devices, by size, reused by the next device: a fresh 64 KiB typed
 * array costs 16-95 µs on this project's machines (its page faults; more under load), a fill
 * of a reused one 1-2 µs.
 */
const spare = new Map<number, Uint8Array[]>();

/** The durable image's pages (PagedImage): a sync copies the ones it writes. */
const durablePageSize = 4096;

/**
 * A write not yet made durable. `buffered`: it sits in the page cache, and its bio goes down at
 * writeback (the next fdatasync), through whatever fault is armed then; a direct write's bio
 * went down at pwrite, through the fault armed at that moment.
 */
type PendingWrite = { offset: number; data: Uint8Array; buffered: boolean };
type CrashDraw = { seed: number; tear?: boolean; corrupt?: boolean };

/**
 * A simulated block device with a volatile write-back cache, deterministic and seeded:
 * - `visible` is what reads return (the page cache); `durable` survives a power cut;
 *   `pending` holds the writes issued since the last successful fdatasync, in order.
 * - fdatasync makes pending durable. A crash keeps durable + any subset of pending writes (no
 *   order between writes after the last barrier), optionally torn at sector granularity.
 * - Faults model dm-flakey under the page cache: drop_writes (acknowledged, never stored),
 *   error_writes (fdatasync fails with EIO once and the pending data is lost: fsyncgate),
 *   corrupt_bio_byte (stored with a byte changed), error_reads (reads fail with EIO). A fault
 *   acts on bios: a buffered write meets the one armed at its writeback (the fdatasync), so a
 *   write made inside a drop window and synced after it is stored, as on a kernel; a direct
 *   write meets the one armed when it is issued.
 * - After the power cut every I/O call returns a promise that never settles.
 */
export class SimDevice {
  readonly size: number;
  readonly sectorSize: number;
  private visible: Uint8Array;
  /** Immutable: a sync makes a new version, so crash points hold theirs without a copy. */
  private durable: PagedImage;
  private lastPoint: CrashPoint | undefined;
  private pending: PendingWrite[] = [];
  private fault: SimFault | undefined;
  private corrupt = { byte: 1, value: 0 };
  private errorPending = false;
  private cutAt: number | undefined;
  private cut = false;
  private onCut!: () => void;
  ioCount = 0;
  writes = 0;
  syncs = 0;
  readonly frozen: Promise<void>;

  constructor(opts: { size: number; sectorSize?: number; initial?: Uint8Array }) {
    this.size = opts.size;
    this.sectorSize = opts.sectorSize ?? 512;
    this.durable = opts.initial
      ? PagedImage.of(opts.initial.subarray(0, opts.size), durablePageSize)
      : PagedImage.zeros(opts.size, durablePageSize);
    const reused = spare.get(opts.size)?.pop();
    this.visible = reused ?? new Uint8Array(opts.size);
    if (reused) reused.fill(0);
    if (opts.initial) this.visible.set(opts.initial.subarray(0, opts.size));
    this.frozen = new Promise((resolve) => (this.onCut = resolve));
  }

  /**
   * Done with this device's I/O (its crash points stay valid): the power is cut, so any I/O
   * still asked never settles, and its page cache goes back to be reused by the next device.
   */
  release(): void {
    this.powerCut();
    if (this.visible.length === 0) return;
    let list = spare.get(this.size);
    if (!list) spare.set(this.size, (list = []));
    // A few are enough: devices are released one run at a time per thread.
    if (list.length < 4) list.push(this.visible);
    this.visible = new Uint8Array(0);
  }

  arm(fault: SimFault, opts: { corruptByte?: number; corruptValue?: number } = {}): void {
    this.fault = fault;
    this.corrupt = { byte: opts.corruptByte ?? 1, value: opts.corruptValue ?? 0 };
  }

  disarm(): void {
    this.fault = undefined;
  }

  /** Power is cut at the n-th I/O call (pwrite or fdatasync) from now. */
  cutAfterIo(n: number): void {
    this.cutAt = this.ioCount + n;
    if (n <= 0) this.powerCut();
  }

  powerCut(): void {
    if (this.cut) return;
    this.cut = true;
    this.onCut();
  }

  get isCut(): boolean {
    return this.cut;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  file(opts: { direct?: boolean } = {}): StoreFile {
    const direct = opts.direct ?? false;
    const dead = <T>(): Promise<T> => new Promise<T>(() => undefined);
    const tick = (): boolean => {
      if (this.cut) return false;
      if (this.cutAt !== undefined && this.ioCount >= this.cutAt) {
        this.powerCut();
        return false;
      }
      this.ioCount++;
      return true;
    };
    return {
      size: () => this.size,
      alloc: (length) => new Uint8Array(length),
      pwrite: async (buf, offset) => {
        if (!tick()) return dead();
        this.checkRange(buf.length, offset, direct, 'pwrite');
        this.writes++;
        if (direct && this.fault === 'error_writes') throw new IoError('EIO', 'pwrite');
        this.visible.set(buf, offset);
        if (this.fault === 'error_writes') {
          this.errorPending = true;
          return;
        }
        if (!direct) {
          this.pending.push({ offset, data: buf.slice(), buffered: true });
          return;
        }
        if (this.fault === 'drop_writes') return;
        this.pending.push({ offset, data: this.corrupted(buf.slice()), buffered: false });
      },
      pread: async (length, offset) => {
        if (this.cut) return dead();
        if (this.fault === 'error_reads') throw new IoError('EIO', 'pread');
        if (direct && (offset % 4096 !== 0 || length % 4096 !== 0))
          throw new IoError('EINVAL', 'pread');
        const end = Math.min(this.size, offset + length);
        return this.visible.slice(Math.min(offset, end), end);
      },
      fdatasync: async () => {
        if (!tick()) return dead();
        this.syncs++;
        if (this.errorPending || this.fault === 'error_writes') {
          // Failed writeback: the pages are marked clean, the data is gone, the error is
          // reported once. A retry "succeeds" — the fsyncgate trap. While error_writes is armed
          // the flush is itself a failing write (dm-flakey errors every write bio), so writes
          // made before the arm but not yet synced fail here too.
          this.errorPending = false;
          if (this.fault === 'error_writes') this.pending = [];
          throw new IoError('EIO', 'fdatasync');
        }
        // Writeback: the buffered writes' bios go down now. drop_writes drops them (their pages
        // are clean: the data is gone) and completes the flush without passing it down, so the
        // direct writes in the device's cache stay volatile.
        if (this.fault === 'drop_writes') {
          this.pending = this.pending.filter((w) => !w.buffered);
          return;
        }
        this.durable = this.durable.with(
          this.pending.map((w) =>
            w.buffered && this.fault === 'corrupt_bio_byte'
              ? { offset: w.offset, data: this.corrupted(w.data.slice()) }
              : w,
          ),
        );
        this.pending = [];
      },
      close: async () => undefined,
    };
  }

  /** A bio's data as it lands: with corrupt_bio_byte armed, one byte changed (in place). */
  private corrupted(data: Uint8Array): Uint8Array {
    if (this.fault === 'corrupt_bio_byte' && data.length >= this.corrupt.byte)
      data[this.corrupt.byte - 1] = this.corrupt.value;
    return data;
  }

  /**
   * One crash state allowed by the model: durable, plus each pending write independently kept
   * or lost (with `tear`, some writes torn: each of their sectors kept or lost), later writes
   * winning where both survive; with `corrupt`, one byte of one surviving sector flipped.
   */
  crashImage(opts: CrashDraw): Uint8Array {
    return this.crashState(opts).image();
  }

  /** The crash state `opts` draws from the device as it is now (see CrashPoint.crashState). */
  crashState(opts: CrashDraw): { key: string; image: () => Uint8Array } {
    return this.crashPoint().crashState(opts);
  }

  /** How many distinct images `crashState` can draw now (see CrashPoint.distinctStatesBound). */
  distinctStatesBound(opts: { tear?: boolean; corrupt?: boolean }): number {
    return this.crashPoint().distinctStatesBound(opts);
  }

  /**
   * What a power cut now would leave to choose from, frozen: later I/O does not change it. Costs
   * no copy: the durable image is immutable (a sync makes a new version), and pending writes
   * only append.
   */
  crashPoint(): CrashPoint {
    const last = this.lastPoint;
    if (last && last.durable === this.durable && last.pendingCount === this.pending.length)
      return last;
    this.lastPoint = new CrashPoint(
      this.durable,
      this.pending,
      this.pending.length,
      this.sectorSize,
    );
    return this.lastPoint;
  }

  /** The durable image alone (what survives if no pending write made it). */
  durableImage(): Uint8Array {
    return this.durable.toBytes();
  }

  private checkRange(length: number, offset: number, direct: boolean, syscall: string): void {
    if (direct && (offset % 4096 !== 0 || length % 4096 !== 0))
      throw new IoError(
        'EINVAL',
        syscall,
        `${syscall}: EINVAL: O_DIRECT needs 4096-aligned offset and length`,
      );
    if (offset < 0 || offset + length > this.size)
      throw new IoError('ENOSPC', syscall, `${syscall}: ENOSPC: beyond the end of the device`);
  }
}

type Range = { start: number; end: number; at: number };
/** A drawn crash state: the merged pending ranges, and their bytes in that state (see draw). */
export type DrawnState = { ranges: readonly Range[]; overlay: Uint8Array };

/**
 * The device at one moment, frozen: the durable image and the writes pending since the last
 * barrier. A power cut at that moment leaves `durable` plus any subset of the pending writes.
 */
export class CrashPoint {
  private ranges: { ranges: Range[]; bytes: number } | undefined;
  /** The durable bytes of the pending ranges: every draw's overlay starts as a copy. */
  private blank: Uint8Array | undefined;
  /** Where each pending write starts in the overlay. */
  private writeAt: number[] | undefined;

  constructor(
    readonly durable: PagedImage,
    /** Shared with the device, which only appends: the first `pendingCount` are this point's. */
    private readonly pendingLog: readonly PendingWrite[],
    readonly pendingCount: number,
    readonly sectorSize: number,
  ) {}

  get pending(): readonly PendingWrite[] {
    return this.pendingLog.length === this.pendingCount
      ? this.pendingLog
      : this.pendingLog.slice(0, this.pendingCount);
  }

  /**
   * The crash state `opts` draws, by content: `key` is the same for two draws exactly when
   * their images are equal (everywhere but the pending writes' ranges, every image is the
   * durable one, so only those bytes are compared). The whole image is built only on demand:
   * most draws repeat an earlier state and never need it.
   */
  crashState(opts: CrashDraw): { key: string; image: () => Uint8Array } {
    const drawn = this.draw(opts);
    return {
      key: createHash('sha256').update(drawn.overlay).digest('base64'),
      image: () => this.imageOf(drawn),
    };
  }

  /**
   * What the draw `opts` leaves in the pending writes' ranges (everywhere else: `durable`), as
   * an overlay: `imageOf` and `bytesOf` read the state out of it. The overlay is written into
   * `into` when given (the state then lasts until the caller reuses it).
   */
  draw(opts: CrashDraw, into?: Uint8Array): DrawnState {
    const random = mulberry32(opts.seed);
    const { ranges, overlay, at } = this.blankOverlay(into);
    const survivors: { offset: number; length: number }[] = [];
    for (let i = 0; i < this.pendingCount; i++) {
      const w = this.pendingLog[i]!;
      // Each pending write: kept whole, lost, or (with `tear`) torn at sector granularity.
      const fate = random();
      if (opts.tear && fate < 0.3) {
        for (let s = 0; s < w.data.length; s += this.sectorSize) {
          if (random() < 0.5) continue;
          const end = Math.min(w.data.length, s + this.sectorSize);
          overlay.set(w.data.subarray(s, end), at(w.offset + s));
          survivors.push({ offset: w.offset + s, length: end - s });
        }
      } else if (fate >= (opts.tear ? 0.65 : 0.5)) {
        overlay.set(w.data, at(w.offset));
        survivors.push({ offset: w.offset, length: w.data.length });
      }
    }
    if (opts.corrupt && survivors.length > 0) {
      const s = survivors[Math.floor(random() * survivors.length)]!;
      const i = at(s.offset + Math.floor(random() * s.length));
      overlay[i] = overlay[i]! ^ (1 + Math.floor(random() * 255));
    }
    return { ranges, overlay };
  }

  /**
   * How many units a crash keeps or loses independently: each pending write, or with `tear`
   * each of its sectors (units are numbered in write order, sectors in order within a write).
   */
  units(tear: boolean): number {
    let n = 0;
    for (let i = 0; i < this.pendingCount; i++)
      n += tear ? Math.ceil(this.pendingLog[i]!.data.length / this.sectorSize) : 1;
    return n;
  }

  /**
   * The state keeping exactly what `kept` says of each pending write (`sector` is 0 without
   * `tear`; with it, each sector is asked in order), later writes winning where two survive: a
   * systematic explorer picks survivor sets itself instead of drawing them. Asked in order:
   * write by write, sector by sector. `into`: as for `draw`.
   */
  drawKept(
    tear: boolean,
    kept: (write: number, sector: number) => boolean,
    into?: Uint8Array,
  ): DrawnState {
    const { ranges } = this.pendingRanges();
    const blank = this.blankBytes();
    const at = this.locate();
    this.writeAt ??= this.pending.map((w) => at(w.offset));
    const sectorsOf = (w: PendingWrite): number =>
      tear ? Math.ceil(w.data.length / this.sectorSize) : 1;
    const unit = tear ? this.sectorSize : Infinity;
    const choices: boolean[] = [];
    for (let i = 0; i < this.pendingCount; i++)
      for (let s = 0; s < sectorsOf(this.pendingLog[i]!); s++) choices.push(kept(i, s));
    // Not a copy of the durable bytes and then the kept ones: the lost sectors get the durable
    // bytes, then the kept ones their data in write order (the last kept writer of a byte wins).
    // Every byte of the overlay lies in some write, so both passes fill it whole.
    const overlay = this.overlayIn(into);
    for (const laying of [false, true]) {
      let u = 0;
      for (let i = 0; i < this.pendingCount; i++) {
        const w = this.pendingLog[i]!;
        const start = this.writeAt[i]!;
        const sectors = sectorsOf(w);
        let runFrom = -1;
        for (let s = 0; s <= sectors; s++) {
          const inRun = s < sectors && choices[u + s] === laying;
          if (inRun && runFrom < 0) runFrom = s;
          if (inRun || runFrom < 0) continue;
          const from = Math.min(w.data.length, runFrom * unit);
          const to = Math.min(w.data.length, s * unit);
          if (laying) overlay.set(w.data.subarray(from, to), start + from);
          else overlay.set(blank.subarray(start + from, start + to), start + from);
          runFrom = -1;
        }
        u += sectors;
      }
    }
    return { ranges, overlay };
  }

  /** An overlay holding the durable bytes of the pending ranges, and where an offset lands in it. */
  private blankOverlay(into?: Uint8Array): {
    ranges: readonly Range[];
    overlay: Uint8Array;
    at: (offset: number) => number;
  } {
    const { ranges } = this.pendingRanges();
    const overlay = this.overlayIn(into);
    overlay.set(this.blankBytes());
    return { ranges, overlay, at: this.locate() };
  }

  /**
   * Memory for a draw's overlay: the start of `into` (a caller's scratch buffer, reused from draw
   * to draw: fresh memory cost more than the fill), else carved from the shared slab.
   */
  private overlayIn(into: Uint8Array | undefined): Uint8Array {
    const { bytes } = this.pendingRanges();
    if (!into) return overlays.carve(bytes);
    if (into.length < bytes)
      throw new RangeError(`an overlay of ${bytes} bytes does not fit ${into.length}`);
    return into.subarray(0, bytes);
  }

  /** The durable bytes of the pending ranges, laid out as an overlay (built once per point). */
  private blankBytes(): Uint8Array {
    if (this.blank) return this.blank;
    const { ranges, bytes } = this.pendingRanges();
    this.blank = new Uint8Array(bytes);
    for (const r of ranges) this.durable.readInto(r.start, r.end, this.blank, r.at);
    return this.blank;
  }

  /** Where a device offset inside the pending ranges lands in an overlay. */
  private locate(): (offset: number) => number {
    const { ranges } = this.pendingRanges();
    // Every write lies inside one merged range.
    return (offset: number): number => {
      let lo = 0;
      let hi = ranges.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (ranges[mid]!.start <= offset) lo = mid;
        else hi = mid - 1;
      }
      return ranges[lo]!.at + offset - ranges[lo]!.start;
    };
  }

  /** A drawn state as a file reads it: in place, the whole image built only if written. */
  source(drawn: DrawnState): ImageSource {
    return {
      size: this.durable.length,
      readInto: (start, end, out, at) => this.readInto(drawn, start, end, out, at),
      materialize: () => this.imageOf(drawn),
    };
  }

  /** The whole image of a drawn state. */
  imageOf({ ranges, overlay }: DrawnState): Uint8Array {
    const image = this.durable.toBytes();
    for (const r of ranges) image.set(overlay.subarray(r.at, r.at + r.end - r.start), r.start);
    return image;
  }

  /**
   * Bytes [start, end) of a drawn state's image, without building the image: a view of the
   * overlay when one pending range holds them all (read it, do not write it), else a copy.
   */
  bytesOf(drawn: DrawnState, start: number, end: number): Uint8Array {
    for (const r of drawn.ranges)
      if (r.start <= start && end <= r.end)
        return drawn.overlay.subarray(r.at + start - r.start, r.at + end - r.start);
    const out = new Uint8Array(end - start);
    this.readInto(drawn, start, end, out, 0);
    return out;
  }

  /** Copies bytes [start, end) of a drawn state's image into `out` at `at`. */
  readInto(drawn: DrawnState, start: number, end: number, out: Uint8Array, at: number): void {
    this.visit(drawn, start, end, (piece, offset) => out.set(piece, at + offset - start));
  }

  /**
   * Calls `piece` on bytes [start, end) of a drawn state's image in order, as views of the
   * durable image and the overlay (no copy); `offset` is where each piece starts on the device.
   */
  visit(
    { ranges, overlay }: DrawnState,
    start: number,
    end: number,
    piece: (bytes: Uint8Array, offset: number) => void,
  ): void {
    let cursor = start;
    for (const r of ranges) {
      const from = Math.max(cursor, r.start);
      const to = Math.min(end, r.end);
      if (from >= to) continue;
      if (cursor < from) this.durable.visit(cursor, from, piece);
      piece(overlay.subarray(r.at + from - r.start, r.at + to - r.start), from);
      cursor = to;
    }
    if (cursor < end) this.durable.visit(cursor, end, piece);
  }

  /**
   * At most how many distinct images `crashState` can draw with these options: 1 with nothing
   * pending; 2 per pending write kept or lost (2 per pending sector, with `tear`); unbounded
   * with `corrupt`. Lets a trial stop drawing once every state it can reach was seen.
   */
  distinctStatesBound(opts: { tear?: boolean; corrupt?: boolean }): number {
    if (this.pendingCount === 0) return 1;
    if (opts.corrupt) return Infinity;
    const choices = this.units(opts.tear ?? false);
    return choices >= 52 ? Infinity : 2 ** choices;
  }

  /** The pending writes' byte ranges, merged and sorted, each with its place in an overlay. */
  pendingRanges(): { ranges: readonly Range[]; bytes: number } {
    if (this.ranges) return this.ranges;
    const sorted = this.pending
      .map((w) => ({ start: w.offset, end: w.offset + w.data.length }))
      .sort((a, b) => a.start - b.start);
    const ranges: Range[] = [];
    let bytes = 0;
    for (const r of sorted) {
      const last = ranges.at(-1);
      if (last && r.start <= last.end) {
        if (r.end > last.end) {
          bytes += r.end - last.end;
          last.end = r.end;
        }
        continue;
      }
      ranges.push({ ...r, at: bytes });
      bytes += r.end - r.start;
    }
    this.ranges = { ranges, bytes };
    return this.ranges;
  }
}
