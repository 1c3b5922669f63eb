import test from 'ava';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuestImage, startQemuTarget } from '../../../src/harness/target/qemu.ts';

// A private copy of the image: its saved state starts absent, and damaging it harms no one.
let imageDir: string;
test.before(async () => {
  const built = await ensureGuestImage();
  imageDir = mkdtempSync(join(tmpdir(), 'powercut-saved-guest-'));
  for (const file of readdirSync(built).filter((f) => !['runs', 'saved'].includes(f)))
    copyFileSync(join(built, file), join(imageDir, file));
});
test.after.always(() => rmSync(imageDir, { recursive: true, force: true }));

const savedStates = () =>
  readdirSync(join(imageDir, 'saved')).filter((name) => name.endsWith('.state'));

async function start(): Promise<{ description: string; log: string[]; clockSkewS: number }> {
  const log: string[] = [];
  const target = await startQemuTarget({ imageDir, log: (line) => log.push(line) });
  try {
    const r = await target.exec('date +%s; dmsetup targets');
    if (!/^flakey\s/m.test(r.stdout)) throw new Error(`no dm-flakey in the guest: ${r.stdout}`);
    const clockSkewS = Math.abs(Number(r.stdout.split('\n')[0]) - Date.now() / 1000);
    return { description: target.description, log, clockSkewS };
  } finally {
    await target.teardown();
  }
}

test.serial(
  '[vm] the first boot saves the ready guest; the next start restores it, with the clock set',
  async (t) => {
    const first = await start();
    t.regex(first.description, /\(booted in/);
    t.true(
      first.log.some((l) => l.startsWith('saved the ready guest')),
      first.log.join('\n'),
    );
    t.is(savedStates().length, 1);

    const second = await start();
    t.regex(second.description, /\(restored in/);
    // The saved guest's clock stood still since the save: it is set to the host's on restore.
    t.true(second.clockSkewS < 30, `guest clock off by ${second.clockSkewS} s`);
    t.log(`${first.description} → ${second.description}`);
  },
);

test.serial(
  '[vm] a damaged saved state is discarded: the guest boots instead and saves a good one',
  async (t) => {
    const [name] = savedStates();
    t.truthy(name);
    const state = join(imageDir, 'saved', name!);
    writeFileSync(state, Buffer.alloc(1 << 20));
    const started = await start();
    t.regex(started.description, /\(booted in/);
    t.true(
      started.log.some((l) => l.includes('did not come up')),
      started.log.join('\n'),
    );
    t.deepEqual(savedStates(), [name]);
    t.true(statSync(state).size > 50 << 20, 'the new saved state is a whole guest');
  },
);
