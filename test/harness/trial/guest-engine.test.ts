import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installUserEngine } from '../../../src/harness/trial/guest-engine.ts';
import { guestWithEngines } from './vm-helpers.ts';

const target = guestWithEngines(test);

const engineDir = (version: string): string => {
  const root = mkdtempSync(join(tmpdir(), 'powercut-engine-'));
  const dir = join(root, 'dir-engine');
  mkdirSync(dir);
  writeFileSync(join(dir, 'run'), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'data.txt'), `${version}\n`);
  return dir;
};

test('[vm] a directory engine: uploaded at once by two slots, replaced atomically while a trial still runs the old one', async (t) => {
  const guest = target();
  const remote = '/opt/powercut/user/dir-engine';
  // A folder left by an older powercut is replaced by the versioned layout.
  await guest.exec(`rm -rf ${remote} && mkdir -p ${remote} && echo old > ${remote}/data.txt`);
  const v1 = engineDir('v1');
  await Promise.all([
    installUserEngine(guest, { upload: v1 }),
    installUserEngine(guest, { upload: v1 }),
  ]);
  t.is((await guest.exec(`${remote}/run`)).stdout.trim(), 'v1');
  // A trial on another slot runs from v1 (its working directory), then v2 arrives.
  const running = await guest.spawn(`sh -c 'cd ${remote}/ && echo in && exec sleep 60'`);
  for await (const line of running.lines) if (line === 'in') break;
  const v2 = engineDir('v2');
  await installUserEngine(guest, { upload: v2 });
  t.is((await guest.exec(`${remote}/run`)).stdout.trim(), 'v2');
  t.is(
    (await guest.exec(`cat /proc/${running.pid}/cwd/data.txt`)).stdout.trim(),
    'v1',
    "the running trial's files are still there",
  );
  await running.kill();
  // Unchanged: nothing is uploaded again (the link already names this version).
  const before = (await guest.exec(`readlink ${remote}`)).stdout.trim();
  await installUserEngine(guest, { upload: v2 });
  t.is((await guest.exec(`readlink ${remote}`)).stdout.trim(), before);
  t.is(
    (await guest.exec(`ls -a /opt/powercut/user | grep -c '\\.tmp\\.' || true`)).stdout.trim(),
    '0',
  );
});
