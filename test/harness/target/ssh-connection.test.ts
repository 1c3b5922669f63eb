import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ServerChannel } from 'ssh2';
import { HarnessError } from '../../../src/harness/errors.ts';
import { SshConnection } from '../../../src/harness/target/ssh-connection.ts';

const { Server, utils } = ssh2;

// An ssh server (ssh2's, in this process) that accepts the session but never answers the exec:
// the command must fail as a harness error, not hang before its own timeout has started.

type Answer = 'never' | { afterMs: number };

/** A server answering every exec as told; `ran` gets what each accepted channel received. */
async function server(answer: Answer) {
  const hostKey = utils.generateKeyPairSync('ed25519');
  const received: string[] = [];
  const closed: Promise<void>[] = [];
  const ssh = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () =>
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          if (answer === 'never') return;
          setTimeout(() => {
            const channel: ServerChannel = acceptExec();
            let data = '';
            channel.on('data', (d: Buffer) => (data += d.toString()));
            closed.push(
              new Promise((resolve) =>
                channel.on('close', () => {
                  received.push(data);
                  resolve();
                }),
              ),
            );
          }, answer.afterMs);
        });
      }),
    );
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => ssh.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'powercut-ssh-'));
  const keyPath = join(dir, 'id');
  writeFileSync(keyPath, utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
  const connection = await SshConnection.connect({
    host: '127.0.0.1',
    port: (ssh.address() as AddressInfo).port,
    username: 'root',
    privateKeyPath: keyPath,
    answerTimeoutMs: 400,
  });
  return {
    connection,
    received,
    closed,
    stop: () => {
      connection.close();
      ssh.close();
    },
  };
}

test('an exec the server never answers fails as a harness error (shell and channel alike)', async (t) => {
  const { connection, stop } = await server('never');
  t.teardown(stop);
  const started = Date.now();
  // The command shell's start waits for the same answer: it is given up, then the channel's.
  await t.throwsAsync(connection.exec('true', { timeoutMs: 60_000 }), {
    instanceOf: HarnessError,
    message: /ssh exec of `true` failed: the server did not answer the exec in 0.4 s/,
  });
  const waited = Date.now() - started;
  t.true(waited >= 800, `the shell's start and then the channel each waited 0.4 s (${waited} ms)`);
  t.true(waited < 10_000, 'given up after the answer time, not the command time');
});

test('a channel answered after the exec was given up is closed unused: the command never got its go line', async (t) => {
  const { connection, received, closed, stop } = await server({ afterMs: 900 });
  t.teardown(stop);
  await t.throwsAsync(connection.exec('touch /tmp/never', { stdin: 'x' }), {
    instanceOf: HarnessError,
    message: /did not answer the exec in 0.4 s/,
  });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await Promise.all(closed);
  t.is(received.length, 1, 'the late channel was opened once');
  t.is(received[0], '', 'and closed without the go line or stdin');
});
