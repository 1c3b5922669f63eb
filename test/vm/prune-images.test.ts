import test from 'ava';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// vm/prune-images.sh on this host's bash and findutils: only our own images, unused long enough.

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

test('removes only images of ours unused for longer than the limit; never the one in use', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'powercut-prune-'));
  const make = (name: string, ageDays: number, info = true) => {
    const dir = join(root, name);
    mkdirSync(dir);
    if (info) writeFileSync(join(dir, 'image.info'), 'kernel=6.1\n');
    writeFileSync(join(dir, 'vmlinuz'), '');
    utimesSync(dir, daysAgo(ageDays), daysAgo(ageDays));
    return dir;
  };
  try {
    const stale = make('0123456789abcdef', 20);
    const recent = make('1123456789abcdef', 3);
    const inUse = make('2123456789abcdef', 30);
    const notOurs = make('3123456789abcdef', 30, false);
    const otherName = make('my-image', 30);
    const file = join(root, '4123456789abcdef');
    writeFileSync(file, '');
    utimesSync(file, daysAgo(30), daysAgo(30));
    const r = await execa('bash', ['vm/prune-images.sh', root, inUse]);
    t.false(existsSync(stale), 'unused for 20 days: removed');
    t.regex(r.stderr, new RegExp(`removed ${stale} \\(unused for over 14 days\\)`));
    for (const kept of [recent, inUse, notOurs, otherName, file]) t.true(existsSync(kept), kept);
    const shorter = await execa('bash', ['vm/prune-images.sh', root, inUse], {
      env: { POWERCUT_IMAGE_KEEP_DAYS: '2' },
    });
    t.is(shorter.exitCode, 0);
    t.false(existsSync(recent), 'unused for 3 days, the limit 2: removed');
    t.true(existsSync(inUse));
    const bad = await execa('bash', ['vm/prune-images.sh', root, inUse], {
      env: { POWERCUT_IMAGE_KEEP_DAYS: 'soon' },
      reject: false,
    });
    t.is(bad.exitCode, 2);
    t.regex(bad.stderr, /POWERCUT_IMAGE_KEEP_DAYS=soon is not a number of days/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
