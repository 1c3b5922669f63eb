import { createHash } from 'node:crypto';
import { IoError, type StoreFile } from '../engine/store-file.ts';
import { mulberry32 } from './prng.ts';

export type SimFault = 'drop_writes' | 'error_writes' | 'corrupt_bio_byte' | 'error_reads';
type PendingWrite = { offset: number; data: Uint8Array };
type CrashDraw = { seed: number; tear?: boolean; corrupt?: boolean };

/**
 * A simulated block device with a volatile write-back cache, deterministic and seeded:
 * - `visible` is what reads return (the page cache); `durable` survives a power cut;
 *   `pending` holds the writes issued since the last successful fdatasync, in order.
 * - fdatasync makes pending durable. A crash keeps durable + any subset of pending writes (no
 *   order between writes after the last barrier), optionally torn at sector granularity.
 * - Faults model dm-flakey under the page cache: drop_writes (acknowledged, never stored),
 *   error_writes (fdatasync fails with EIO once and the pending data is lost: fsyncgate),
 *   corrupt_bio_byte (stored with a byte changed), error_reads (reads fail with EIO).
 * - After the power cut every I/O call returns a promise that never settles.
 */
export class SimDevice {
  readonly size: number;
  readonly sectorSize: number;
  private readonly visible: Uint8Array;
  private readonly durable: Uint8Array;
  private pending: PendingWrite[] = [];
  /** pendingRanges() as of `rangesFor` holding `rangesCount` writes (writes only append). */
  private rangesFor: PendingWrite[] | undefined;
  private rangesCount = 0;
  private ranges:
    { ranges: { start: number; end: number; at: number }[]; bytes: number } | undefined;
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
    this.durable = new Uint8Array(opts.size);
    if (opts.initial) this.durable.set(opts.initial.subarray(0, opts.size));
    this.visible = this.durable.slice();
    this.frozen = new Promise((resolve) => (this.onCut = resolve));
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
        if (this.fault === 'drop_writes') return;
        if (this.fault === 'error_writes') {
          this.errorPending = true;
          return;
        }
        const data = buf.slice();
        if (this.fault === 'corrupt_bio_byte' && data.length >= this.corrupt.byte)
          data[this.corrupt.byte - 1] = this.corrupt.value;
        this.pending.push({ offset, data });
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
        // drop_writes completes the flush without passing it down: nothing becomes durable.
        if (this.fault === 'drop_writes') return;
        for (const w of this.pending) this.durable.set(w.data, w.offset);
        this.pending = [];
      },
      close: async () => undefined,
    };
  }

  /**
   * One crash state allowed by the model: durable, plus each pending write independently kept
   * or lost (with `tear`, some writes torn: each of their sectors kept or lost), later writes
   * winning where both survive; with `corrupt`, one byte of one surviving sector flipped.
   */
  crashImage(opts: CrashDraw): Uint8Array {
    return this.crashState(opts).image();
  }

  /**
   * The crash state `opts` draws, by content: `key` is the same for two draws exactly when
   * their images are equal (everywhere but the pending writes' ranges, every image is the
   * durable one, so only those bytes are compared). The whole image is built only on demand:
   * most draws repeat an earlier state and never need it.
   */
  crashState(opts: CrashDraw): { key: string; image: () => Uint8Array } {
    const random = mulberry32(opts.seed);
    const { ranges, bytes } = this.pendingRanges();
    const overlay = new Uint8Array(bytes);
    for (const r of ranges) overlay.set(this.durable.subarray(r.start, r.end), r.at);
    // Where a device offset lands in the overlay (every write lies inside one merged range).
    const at = (offset: number): number => {
      let lo = 0;
      let hi = ranges.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (ranges[mid]!.start <= offset) lo = mid;
        else hi = mid - 1;
      }
      return ranges[lo]!.at + offset - ranges[lo]!.start;
    };
    const survivors: { offset: number; length: number }[] = [];
    for (const w of this.pending) {
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
    return {
      key: createHash('sha256').update(overlay).digest('base64'),
      image: () => {
        const image = this.durable.slice();
        for (const r of ranges) image.set(overlay.subarray(r.at, r.at + r.end - r.start), r.start);
        return image;
      },
    };
  }

  /**
   * At most how many distinct images `crashState` can draw with these options: 1 with nothing
   * pending; 2 per pending write kept or lost (2 per pending sector, with `tear`); unbounded
   * with `corrupt`. Lets a trial stop drawing once every state it can reach was seen.
   */
  distinctStatesBound(opts: { tear?: boolean; corrupt?: boolean }): number {
    if (this.pending.length === 0) return 1;
    if (opts.corrupt) return Infinity;
    const choices = opts.tear
      ? this.pending.reduce((n, w) => n + Math.ceil(w.data.length / this.sectorSize), 0)
      : this.pending.length;
    return choices >= 52 ? Infinity : 2 ** choices;
  }

  /** The pending writes' byte ranges, merged and sorted, each with its place in an overlay. */
  private pendingRanges(): { ranges: { start: number; end: number; at: number }[]; bytes: number } {
    if (this.rangesFor === this.pending && this.rangesCount === this.pending.length)
      return this.ranges!;
    const sorted = this.pending
      .map((w) => ({ start: w.offset, end: w.offset + w.data.length }))
      .sort((a, b) => a.start - b.start);
    const ranges: { start: number; end: number; at: number }[] = [];
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
    this.rangesFor = this.pending;
    this.rangesCount = this.pending.length;
    this.ranges = { ranges, bytes };
    return this.ranges;
  }

  /** The durable image alone (what survives if no pending write made it). */
  durableImage(): Uint8Array {
    return this.durable.slice();
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
