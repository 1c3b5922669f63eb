import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { QmpClient } from '../../../src/harness/target/qmp.ts';
import { HarnessError } from '../../../src/harness/errors.ts';

/** A QMP server speaking the protocol's framing: greeting, capabilities, events between replies. */
function fakeQmp(answer: (command: string, args: unknown) => object): Promise<{
  path: string;
  server: Server;
  seen: string[];
}> {
  const path = join(mkdtempSync(join(tmpdir(), 'powercut-qmp-')), 'qmp.sock');
  const seen: string[] = [];
  const server = createServer((socket) => {
    socket.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
    createInterface({ input: socket }).on('line', (line) => {
      const { execute, arguments: args } = JSON.parse(line) as {
        execute: string;
        arguments?: unknown;
      };
      seen.push(execute);
      // An event first, as QEMU sends them whenever they happen: the client must skip it.
      socket.write(`${JSON.stringify({ event: 'STOP', timestamp: {} })}\n`);
      socket.write(`${JSON.stringify(answer(execute, args))}\n`);
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server, seen })));
}

test('qmp: negotiates capabilities, skips events, and returns each reply in order', async (t) => {
  const { path, server, seen } = await fakeQmp((command, args) =>
    command === 'query-status'
      ? { return: { status: 'running' } }
      : { return: { echoed: args ?? null } },
  );
  const qmp = await QmpClient.connect(path);
  const [status, echoed] = await Promise.all([
    qmp.execute('query-status'),
    qmp.execute('migrate', { uri: 'exec:cat > x' }),
  ]);
  t.deepEqual(status, { status: 'running' });
  t.deepEqual(echoed, { echoed: { uri: 'exec:cat > x' } });
  t.deepEqual(seen, ['qmp_capabilities', 'query-status', 'migrate']);
  qmp.close();
  server.close();
});

test("qmp: an error reply becomes a HarnessError with QEMU's description", async (t) => {
  const { path, server } = await fakeQmp((command) =>
    command === 'qmp_capabilities'
      ? { return: {} }
      : { error: { class: 'GenericError', desc: 'There is a migration in progress' } },
  );
  const qmp = await QmpClient.connect(path);
  const error = await t.throwsAsync(qmp.execute('migrate', { uri: 'exec:true' }), {
    instanceOf: HarnessError,
  });
  t.is(error?.message, 'qmp migrate: There is a migration in progress');
  qmp.close();
  server.close();
});

test('qmp: a socket nobody listens on is an error, not a hang', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'powercut-qmp-')), 'absent.sock');
  await t.throwsAsync(QmpClient.connect(path, 2_000));
});
