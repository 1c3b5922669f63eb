import test from 'ava';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { CommandShell } from '../../../src/harness/target/command-shell.ts';
import { ShellPool } from '../../../src/harness/target/shell-pool.ts';
import { sh } from '../../../src/harness/target/shell.ts';
import { targetShells } from './shells.ts';

/** A command shell on a real shell of this machine, in its own process group. */
function startShell(argv: string[]): { shell: CommandShell; pid: number } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'pipe', detached: true });
  const shell = new CommandShell({
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited: new Promise((resolve) => child.once('exit', resolve)),
    killTree: async () => {
      if (child.exitCode === null && child.signalCode === null)
        process.kill(-child.pid!, 'SIGKILL');
    },
  });
  return { shell, pid: child.pid! };
}

for (const argv of targetShells) {
  const name = argv.join(' ');

  test(`${name}: output, error output and exit code are the command's exactly`, async (t) => {
    const { shell } = startShell(argv);
    t.deepEqual(await shell.run('printf out; printf err >&2; exit 3'), {
      code: 3,
      stdout: 'out',
      stderr: 'err',
    });
    t.deepEqual(await shell.run('true'), { code: 0, stdout: '', stderr: '' });
    t.deepEqual(await shell.run('echo a; echo; echo'), { code: 0, stdout: 'a\n\n\n', stderr: '' });
    const big = await shell.run('head -c 3000000 /dev/zero | tr "\\0" x');
    t.is(big.stdout.length, 3_000_000);
    t.true(/^x+$/.test(big.stdout));
    shell.close();
  });

  test(`${name}: any printed text comes back exactly, end lines look-alikes too`, async (t) => {
    const { shell } = startShell(argv);
    // Text that mimics an end line (any nonce, this shell's command numbers) is output.
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.nat(20).map((n) => `\n0123456789abcdef01234567:${n}:0\n`),
    );
    await fc.assert(
      fc.asyncProperty(text, text, async (out, err) => {
        const r = await shell.run(sh`printf '%s' ${out}; printf '%s' ${err} >&2`);
        t.deepEqual(r, { code: 0, stdout: out, stderr: err });
      }),
      { numRuns: 80 },
    );
    shell.close();
  });

  test(`${name}: nothing leaks from one command to the next; exit and syntax errors end only their command`, async (t) => {
    const { shell } = startShell(argv);
    const before = (await shell.run('pwd; echo "[$x]"; umask')).stdout;
    await shell.run('cd /; x=1; set -e; trap "echo trapped" EXIT; umask 077');
    t.is((await shell.run('pwd; echo "[$x]"; umask')).stdout, before);
    t.is((await shell.run('exit 7')).code, 7);
    const syntax = await shell.run('if then fi');
    t.not(syntax.code, 0);
    t.regex(syntax.stderr, /syntax|unexpected/i);
    t.deepEqual(await shell.run("echo 'still here'"), {
      code: 0,
      stdout: 'still here\n',
      stderr: '',
    });
    shell.close();
  });

  test(`${name}: a command that reads stdin reads nothing (not the commands behind it)`, async (t) => {
    const { shell } = startShell(argv);
    t.deepEqual(await shell.run('cat; echo "done $?"'), {
      code: 0,
      stdout: 'done 0\n',
      stderr: '',
    });
    t.is((await shell.run('echo next')).stdout, 'next\n');
    shell.close();
  });

  test(`${name}: a shell that dies under a command fails it, and takes no more`, async (t) => {
    // Its child still holds the output open: the shell's own exit is what is noticed.
    const { shell, pid } = startShell(argv);
    await t.throwsAsync(shell.run(`kill -9 ${pid}; sleep 30`), {
      message: /command shell ended before the command finished/,
    });
    t.false(shell.alive);
    await t.throwsAsync(shell.run('true'), { message: /has ended/ });
    process.kill(-pid, 'SIGKILL'); // the orphaned sleep
  });

  test(`${name}: a timeout ends the command, its children and the shell`, async (t) => {
    const { shell } = startShell(argv);
    await t.throwsAsync(shell.run('sleep 30 & sleep 31; echo never', 300), {
      message: /`sleep 30 & sleep 31; echo never` timed out after 300 ms/,
    });
    t.false(shell.alive);
  });
}

test('the pool reuses an idle shell, starts one more while all are busy, and declines past max', async (t) => {
  const started: number[] = [];
  const pool = new ShellPool(async () => {
    const { shell, pid } = startShell(targetShells[0]!);
    started.push(pid);
    return shell;
  }, 2);
  const first = await pool.run('echo $$');
  const second = await pool.run('echo $$');
  t.is(first?.stdout, second?.stdout, 'one shell ran both, one after the other');
  t.is(started.length, 1);
  const atOnce = await Promise.all([
    pool.run('sleep 0.3; echo a'),
    pool.run('sleep 0.3; echo b'),
    pool.run('echo c'),
  ]);
  t.deepEqual(
    atOnce.map((r) => r?.stdout),
    ['a\n', 'b\n', undefined],
    'two shells at most; the third command is left to the caller',
  );
  t.is(started.length, 2);
  pool.close();
  t.is(await pool.run('true'), undefined, 'a closed pool runs nothing');
});

test('the pool replaces a shell that died, and declines for good when a shell cannot start', async (t) => {
  let starts = 0;
  const pool = new ShellPool(async () => {
    starts++;
    return startShell(targetShells[0]!).shell;
  }, 1);
  await t.throwsAsync(pool.run('kill -9 $$; sleep 1'), { message: /ended before/ });
  t.is((await pool.run('echo again'))?.stdout, 'again\n');
  t.is(starts, 2);
  pool.close();

  let tries = 0;
  const broken = new ShellPool(async () => {
    tries++;
    throw new Error('no shell here');
  });
  t.is(await broken.run('true'), undefined);
  t.is(await broken.run('true'), undefined);
  t.is(tries, 1, 'tried once');
});
