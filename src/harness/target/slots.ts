import { availableParallelism, freemem } from 'node:os';
import { ensureGuestImage } from './qemu.ts';
import {
  resolveTargetKind,
  startTarget,
  type StartTargetOptions,
  type TargetKind,
} from './select.ts';
import type { Target } from './target.ts';

/** What one embedded guest needs from the host: its RAM (qemu -m 1536) and some headroom. */
const guestMemoryBytes = 2 * 2 ** 30;

/**
 * How many trials run at once when the user does not say (`--jobs`): for the embedded guest,
 * one guest per core, as many as free memory holds; elsewhere (ssh, vagrant, local: one machine
 * the user sized) one, since their cores and memory are not ours to guess.
 */
export function defaultJobs(
  kind: Exclude<TargetKind, 'auto'>,
  host: { cores: number; freeBytes: number } = {
    cores: availableParallelism(),
    freeBytes: freemem(),
  },
): number {
  if (kind !== 'qemu') return 1;
  return Math.max(1, Math.min(host.cores, Math.floor(host.freeBytes / guestMemoryBytes)));
}

/**
 * Starts `jobs` slots to run trials on: that many embedded guests booted in parallel (from one
 * image build), or that many connections to the one ssh/vagrant/local target (every run and
 * trial owns its own named resources there, so they do not meet). A slot that fails to start is
 * reported and the run goes on with the others; with none started, the first error is thrown.
 */
export async function startSlots(
  kind: TargetKind,
  jobs: number | undefined,
  options: StartTargetOptions & { maxUseful: number },
): Promise<{ targets: Target[]; jobs: number }> {
  const concrete = await resolveTargetKind(kind, options);
  const wanted = Math.max(1, Math.min(jobs ?? defaultJobs(concrete), options.maxUseful));
  const imageDir =
    concrete === 'qemu' ? (options.imageDir ?? (await ensureGuestImage(options.log))) : undefined;
  const started = await Promise.allSettled(
    Array.from({ length: wanted }, () =>
      startTarget(concrete, { ...options, ...(imageDir ? { imageDir } : {}) }),
    ),
  );
  const targets = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const errors = started.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
  if (targets.length === 0) throw errors[0]!;
  for (const e of errors)
    options.log?.(
      `a ${concrete} slot did not start (${e.message}): going on with ${targets.length}`,
    );
  return { targets, jobs: wanted };
}

/**
 * Hands out slots one trial at a time, first come first served: whoever asks waits until a
 * slot is free. A slot marked lost (its target is gone) is never handed out again.
 */
export class SlotPool<T> {
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];
  private readonly lost = new Set<number>();

  constructor(readonly slots: readonly T[]) {
    this.free = slots.map((_, i) => i);
  }

  async acquire(): Promise<{ slot: number; value: T }> {
    if (this.lost.size === this.slots.length) throw new Error('every slot is lost');
    const slot = this.free.shift() ?? (await new Promise<number>((r) => this.waiting.push(r)));
    if (slot < 0) throw new Error('every slot is lost');
    return { slot, value: this.slots[slot]! };
  }

  release(slot: number, lost = false): void {
    if (lost) {
      this.lost.add(slot);
      // Nobody may wait forever on slots that will never come back.
      if (this.lost.size === this.slots.length) for (const w of this.waiting.splice(0)) w(-1);
      return;
    }
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }

  get alive(): number {
    return this.slots.length - this.lost.size;
  }
}
