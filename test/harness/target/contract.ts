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
