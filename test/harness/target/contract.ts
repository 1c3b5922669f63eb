import type { ExecutionContext } from 'ava';
import type { Target } from '../../../src/harness/target/target.ts';

/** What every target's spawn must do: stream stdout lines, take stdin, and end on kill. */
export async function assertSpawnStreamsAndKills(
  t: ExecutionContext,
  target: Target,
): Promise<void> {
  const p = await target.spawn('sh -c \'while read -r l; do echo "got $l"; done\'');
  p.stdin.write('a\nb\n');
  const seen: string[] = [];
  for await (const line of p.lines) {
    seen.push(line);
    if (seen.length === 2) await p.kill();
  }
  t.deepEqual(seen, ['got a', 'got b']);
  t.not((await p.done).code, 0);
}

/**
 * What every target's exec timeout must do: end the whole command on the target (its shell, a
 * child in the foreground and one in the background), not only the channel to it.
 */
export async function assertTimeoutKillsTheCommandTree(
  t: ExecutionContext,
  target: Target,
): Promise<void> {
  await t.throwsAsync(target.exec('sleep 871 & sleep 872; echo never', { timeoutMs: 1500 }), {
    message: /timed out after 1500 ms/,
  });
  let left = -1;
  for (let attempt = 0; attempt < 40 && left !== 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    const r = await target.exec("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '", {
      check: false,
    });
    left = (r.stdout.match(/sleep 87[12]/g) ?? []).length;
  }
  t.is(left, 0, 'no process of the timed-out command is left on the target');
}

/**
 * Runs `rounds` rounds of `width` commands at once, each appending its id (`round.slot`) to a
 * log in the target through `run`, then checks that every command ran exactly once.
 */
async function assertEachRanOnce(
  t: ExecutionContext,
  target: Target,
  rounds: number,
  width: number,
  run: (id: string, slot: number, log: string) => Promise<void>,
): Promise<void> {
  const log = `/tmp/powercut-exec-once.${process.pid}`;
  await target.exec(`rm -f ${log}`);
  for (let round = 0; round < rounds; round++)
    await Promise.all(
      Array.from({ length: width }, (_, slot) => run(`${round}.${slot}`, slot, log)),
    );
  const lines = (await target.exec(`cat ${log}; rm -f ${log}`)).stdout.trim().split('\n');
  t.is(lines.length, rounds * width, 'each command ran once');
  t.is(new Set(lines).size, rounds * width, 'each with its own id');
}

/**
 * What every ssh target's exec must survive: many commands at once on one connection, some
 * ending while others start (the pattern that makes Debian 12's dropbear drop new channels).
 * Every command runs exactly once and gets all of its stdin.
 */
export function assertConcurrentExecsRunOnce(t: ExecutionContext, target: Target): Promise<void> {
  return assertEachRanOnce(t, target, 30, 3, async (id, _slot, log) => {
    await target.exec('readlink /nonexistent', { check: false });
    await target.exec(`cat >> ${log}`, { stdin: `${id}\n`, timeoutMs: 120_000 });
  });
}

/**
 * What every target's exec without stdin must do when more commands come at once than it keeps
 * command shells for (3): each runs once, in the shells or on channels of their own, and gets
 * back exactly its own output and exit code, none of another's.
 */
export function assertConcurrentCommandsExact(t: ExecutionContext, target: Target): Promise<void> {
  return assertEachRanOnce(t, target, 20, 5, async (id, slot, log) => {
    const r = await target.exec(
      `echo ${id} >> ${log}; printf 'out %s' ${id}; echo err ${id} >&2; exit ${slot}`,
      { check: false, timeoutMs: 120_000 },
    );
    t.deepEqual(
      { code: r.code, stdout: r.stdout, stderr: r.stderr },
      { code: slot, stdout: `out ${id}`, stderr: `err ${id}\n` },
    );
  });
}
