import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuestBundle } from '../../src/harness/trial/guest-engine.ts';
import { lineStream } from '../../src/harness/target/lines.ts';

// The tracer (native/stop/powercut-stop.c) on this machine's own kernel: ptrace and seccomp
// need no device-mapper. Engines here are shell and node scripts that know nothing of it.

async function tracer(): Promise<string> {
  return join(await buildGuestBundle(), 'powercut-stop');
}

/** Starts the tracer; reads all its stdout in the background; `next` waits for a line. */
async function run(args: string[]) {
  const child = spawn(await tracer(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const seen: string[] = [];
  let wake: () => void = () => undefined;
  let ended = false;
  void (async () => {
    for await (const line of lineStream(child.stdout)) {
      seen.push(line);
      wake();
    }
    ended = true;
    wake();
  })();
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let cursor = 0;
  const next = async (pattern: RegExp): Promise<string> => {
    for (;;) {
      while (cursor < seen.length) {
        const line = seen[cursor++]!;
        if (pattern.test(line)) return line;
      }
      if (ended) throw new Error(`ended before ${pattern}: ${stderr}`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  return { child, next, exit, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lineCount = (file: string): number =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;

/** A shell engine: for each input line, an invoke and an ok line, then a write to `file`, then fsync. */
function shellEngine(dir: string): { script: string; file: string } {
  const file = join(dir, 'after-ack.log');
  const script = join(dir, 'engine.sh');
  writeFileSync(
    script,
    `n=0\nwhile read -r line; do n=$((n+1)); echo "{\\"id\\":$n,\\"type\\":\\"invoke\\",\\"t\\":1}"; echo "{\\"id\\":$n,\\"type\\":\\"ok\\",\\"t\\":2}"; echo $n >> ${file}; sync ${file}; done\n`,
  );
  return { script, file };
}

test('stops an engine at the exit of its Nth ack: nothing it does after the ack happens until resumed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const { script, file } = shellEngine(dir);
  const p = await run(['--stop', 'arm:acks:3', '--', `sh ${script}`]);
  p.child.stdin.write('a\nb\nc\nd\ne\n');
  const stop = JSON.parse(await p.next(/"type":"stop"/)) as Record<string, unknown>;
  t.like(stop, { label: 'arm', event: 'ack', n: 3, id: 3, exact: true });
  await sleep(400);
  t.is(lineCount(file), 2, 'the write after ack 3 has not happened while stopped');
  p.child.stdin.write('#powercut resume arm\n');
  p.child.stdin.end();
  t.is(await p.exit, 0, p.stderr());
  t.is(lineCount(file), 5);
});

test('stops before the Nth fsync, and after it; relays every line before the stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const { script, file } = shellEngine(dir);
  const p = await run([
    '--stop',
    'b:fsync:2:before',
    '--stop',
    'a:fsync:4:after',
    '--',
    `sh ${script}`,
  ]);
  p.child.stdin.write('1\n2\n3\n4\n5\n');
  const acks: string[] = [];
  const collect = async (label: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const line = await p.next(/"type":"(ok|stop)"/);
      if (line.includes('"stop"')) {
        const stop = JSON.parse(line) as Record<string, unknown>;
        if (stop.label === label) return stop;
      } else acks.push(line);
    }
  };
  const before = await collect('b');
  t.like(before, { event: 'fsync', n: 2, exact: true });
  t.is(typeof before.path, 'string');
  t.is(acks.length, 2, 'ack 2 came before its own fsync, and was relayed before the stop');
  p.child.stdin.write('#powercut resume b\n');
  const after = await collect('a');
  t.like(after, { event: 'fsync', n: 4, ret: 0 });
  t.is(lineCount(file), 4, 'stopped right after the 4th fsync returned');
  p.child.stdin.write('#powercut resume a\n');
  p.child.stdin.end();
  t.is(await p.exit, 0);
});

test('answers: stops once every listed op was answered; "stop now" freezes it wherever it is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const { script, file } = shellEngine(dir);
  const p = await run(['--stop', 'cut:answers:1-2,4', '--', `sh ${script}`]);
  p.child.stdin.write('1\n2\n3\n4\n5\n6\n');
  const stop = JSON.parse(await p.next(/"type":"stop"/)) as Record<string, unknown>;
  t.like(stop, { event: 'answers', id: 4, exact: true });
  t.is(lineCount(file), 3);
  p.child.stdin.write('#powercut resume cut\n');
  await p.next(/"id":6,"type":"ok"/);
  p.child.stdin.write('7\n#powercut stop now\n');
  const now = JSON.parse(await p.next(/"type":"stop"/)) as Record<string, unknown>;
  t.like(now, { label: 'now', event: 'now' });
  p.child.stdin.write('#powercut resume now\n');
  p.child.stdin.end();
  t.is(await p.exit, 0);
});

test("a stop while a vfork child has not exec'd yet: the parent, asleep in the kernel, counts as frozen", async (t) => {
  // dash runs every external command through vfork: a stop that lands between the vfork and
  // the exec once waited forever for the parent, which cannot stop until its child runs on.
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const source = join(dir, 'engine.c');
  writeFileSync(
    source,
    `#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    pid_t pid = vfork();
    if (pid == 0) {
      struct timespec ts = {1, 0};
      nanosleep(&ts, 0); /* the stop lands here, before the exec */
      execl("/bin/true", "true", (char *)0);
      _exit(127);
    }
    printf("{\\"id\\":1,\\"type\\":\\"ok\\",\\"t\\":0}\\n");
    fflush(stdout);
  }
  return 0;
}
`,
  );
  const engine = join(dir, 'engine');
  execFileSync('cc', ['-O2', '-o', engine, source]);
  const p = await run(['--', engine]);
  p.child.stdin.write('x\n');
  await sleep(300);
  p.child.stdin.write('#powercut stop now\n');
  // The 20 s limit's timer is cleared, not left to hold the worker open after the tests.
  let limit: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    p.next(/"type":"stop"/).then(() => true),
    new Promise<boolean>((resolve) => (limit = setTimeout(() => resolve(false), 20_000))),
  ]);
  clearTimeout(limit);
  t.true(stopped, 'the stop was reported while the vfork child slept before its exec');
  if (!stopped) {
    p.child.kill('SIGKILL');
    return;
  }
  p.child.stdin.write('#powercut resume now\n');
  p.child.stdin.end();
  await p.next(/"type":"ok"/);
  t.is(await p.exit, 0, p.stderr());
});

test('every thread stops: a node engine whose worker thread writes continuously is frozen whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const file = join(dir, 'worker.log');
  const script = join(dir, 'engine.mjs');
  writeFileSync(
    script,
    `import { Worker } from 'node:worker_threads';
import { createInterface } from 'node:readline';
import { appendFileSync } from 'node:fs';
new Worker(\`const { appendFileSync } = require('node:fs'); setInterval(() => appendFileSync(${JSON.stringify(file)}, 'x\\\\n'), 5);\`, { eval: true });
let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  n++;
  process.stdout.write(JSON.stringify({ id: n, type: 'ok', t: 0 }) + '\\n');
}
process.exit(0);
`,
  );
  const p = await run(['--stop', 'arm:acks:2', '--', `${process.execPath} ${script}`]);
  await sleep(500);
  p.child.stdin.write('a\nb\nc\n');
  await p.next(/"type":"stop"/);
  await sleep(100);
  const frozen = lineCount(file);
  await sleep(500);
  t.is(lineCount(file), frozen, 'the worker thread wrote nothing while the engine was stopped');
  p.child.stdin.write('#powercut resume arm\n');
  await sleep(300);
  t.true(lineCount(file) > frozen, 'and writes again once resumed');
  p.child.stdin.end();
  t.is(await p.exit, 0, p.stderr());
});

test('killing the tracer kills the engine (PTRACE_O_EXITKILL); the pid file names the tracer and its start time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const pidFile = join(dir, 'engine.pid');
  const marker = join(dir, 'child.pid');
  const p = await run(['--pidfile', pidFile, '--', `sh -c 'echo $$ > ${marker}; sleep 1000'`]);
  while (!existsSync(marker) || readFileSync(marker, 'utf8').trim() === '') await sleep(50);
  const [pid, start] = readFileSync(pidFile, 'utf8').trim().split(' ');
  t.is(Number(pid), p.child.pid!);
  t.regex(start!, /^\d+$/);
  const enginePid = Number(readFileSync(marker, 'utf8').trim());
  p.child.kill('SIGKILL');
  await p.exit;
  await sleep(300);
  // Dead (or a zombie nobody reaped yet: this machine's PID 1 may not reap), never running.
  const state = existsSync(`/proc/${enginePid}/stat`)
    ? readFileSync(`/proc/${enginePid}/stat`, 'utf8').replace(/^.*\) /, '')[0]
    : 'gone';
  t.true(state === 'gone' || state === 'Z', `the engine died with its tracer (state ${state})`);
});

test('the filter traps only what some stop needs: nothing without stops, syncs for a sync stop, lines until the last line stop', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'powercut-stop-'));
  const { script } = shellEngine(dir);
  /** Runs six ops under `stops` (each resumed as it comes); the syscall stops the tracer took. */
  const stopsTaken = async (stops: string[]): Promise<number> => {
    const p = await run(['--stats', ...stops.flatMap((s) => ['--stop', s]), '--', `sh ${script}`]);
    p.child.stdin.write('1\n2\n3\n4\n5\n6\n');
    for (const label of stops.map((s) => s.split(':')[0]!)) {
      await p.next(new RegExp(`"type":"stop","label":"${label}"`));
      p.child.stdin.write(`#powercut resume ${label}\n`);
    }
    p.child.stdin.end();
    t.is(await p.exit, 0, p.stderr());
    return Number(/powercut-stop: (\d+) syscall stops/.exec(p.stderr())?.[1]);
  };
  t.is(await stopsTaken([]), 0);
  // Six `sync FILE` calls, each stopped at its entry and (for an after-stop) its exit; the
  // engine's 18 writes are not trapped.
  t.is(await stopsTaken(['s:fsync:6:after']), 12);
  // Every write is trapped (a stdout line or the append), no sync; a line's exit is stopped
  // only until the answers stop fired: at most 4 lines × 2 + 14 writes, not 12 × 2 + 6 + 12.
  const lines = await stopsTaken(['cut:answers:1-2']);
  t.log(`${lines} syscall stops for the answers stop`);
  t.true(lines >= 18 && lines <= 22, `${lines} stops`);
});

test('a bad stop spec is refused with exit 2', async (t) => {
  const p = await run(['--stop', 'x:acks:0', '--', 'true']);
  t.is(await p.exit, 2);
  t.regex(p.stderr(), /bad --stop x:acks:0/);
});
