import test from 'ava';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EngineServer } from '../../../src/harness/trial/engine-server.ts';
import { guestEngineCommand } from '../../../src/harness/trial/guest-engine.ts';
import { LocalTarget } from '../../../src/harness/target/local.ts';
import type { Target } from '../../../src/harness/target/target.ts';
import { engineCliArgs, scratchDir } from '../../engine/engine-cli.ts';

// The host side of the engine server against the real `powercut-engine serve` run on this
// machine (the target's engine command mapped to the sources): one process per target, and a
// server that died or stopped answering is replaced, never waited on forever.

const dir = scratchDir(test, 'engine-server');

/** This machine as a target whose engine command is `serveCommand`. */
function hostTarget(serveCommand = `node ${engineCliArgs.join(' ')} serve`): Target {
  const local = new LocalTarget();
  return Object.assign(Object.create(local) as Target, {
    spawn: (command: string) =>
      local.spawn(command === `${guestEngineCommand} serve` ? serveCommand : command),
    teardown: () => local.teardown(),
  });
}

const store = resolve(dir, 'fsync.db');
writeFileSync(store, Buffer.alloc(1 << 20));
const dump = ['fsync', 'dump', '--store', store, '--pages', '4'];

test('one server per target answers every request; one that died is replaced', async (t) => {
  const target = hostTarget();
  try {
    const server = await EngineServer.for(target);
    const first = await server.run(dump, 60_000);
    t.is(first.code, 0, first.stderr);
    t.is(first.stdout.trim().split('\n').length, 4);
    t.is((await EngineServer.for(target)).pid, server.pid, 'the same process');
    process.kill(server.pid, 'SIGKILL');
    await t.throwsAsync(server.run(dump, 60_000), { message: /engine server (had )?ended/ });
    const next = await EngineServer.for(target);
    t.not(next.pid, server.pid, 'a new server');
    t.is((await next.run(dump, 60_000)).stdout, first.stdout);
  } finally {
    await target.teardown();
  }
});

test('a server that does not answer in time is a harness error, killed, and replaced', async (t) => {
  const target = hostTarget('sleep 600');
  try {
    const silent = await EngineServer.for(target);
    await t.throwsAsync(silent.run(dump, 500), { message: /timed out after 500 ms/ });
    t.not((await EngineServer.for(target)).pid, silent.pid);
  } finally {
    await target.teardown();
  }
});
