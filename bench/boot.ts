import { startQemuTarget } from '../src/harness/target/qemu.ts';
import { installGuestEngine } from '../src/harness/trial/guest-engine.ts';

export type BootRow = {
  start: 'booted' | 'restored';
  /** From starting qemu to the first ssh command answered. */
  toSshSeconds: number;
  /** Plus the guest engine installed: when the first trial can begin. */
  toFirstTrialSeconds: number;
};

/**
 * The embedded guest's start, both ways in one run: a cold boot (the reference) and a start
 * from the saved ready guest. The first cold boot of a fresh image also saves it, so the
 * restored rows always have a state to start from.
 */
export async function benchBoot(repeats = 2): Promise<BootRow[]> {
  const rows: BootRow[] = [];
  for (let i = 0; i < repeats; i++) {
    for (const start of ['booted', 'restored'] as const) {
      const started = Date.now();
      const target = await startQemuTarget({ savedState: start === 'restored' });
      try {
        await target.exec('true');
        const toSshSeconds = (Date.now() - started) / 1000;
        await installGuestEngine(target);
        if (!target.description.includes(`(${start} in`))
          throw new Error(`expected a ${start} guest, got ${target.description}`);
        rows.push({
          start,
          toSshSeconds: Number(toSshSeconds.toFixed(1)),
          toFirstTrialSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
        });
      } finally {
        await target.teardown();
      }
    }
  }
  return rows;
}
