import { HarnessError } from '../errors.ts';

/**
 * How a timed-out command is found and ended in the target: the command reports its own pid
 * and start time first (identifySelf), and the kill walks its process tree from there,
 * guarded by that start time (killTreeScript). docs/safety.md explains why not by group.
 */

/**
 * The first line of a timed command, in its own shell (builtins only: no process spawned):
 * its pid and start time on stderr, for the kill should it time out.
 */
export const identifySelf =
  'read -r __pc_s < /proc/$$/stat; set -- ${__pc_s##*) }; echo "@powercut-exec $$ ${20}" >&2';

export type ExecIdentity = { pid: number; startTime: string };

/** Takes the identity line out of a timed command's stderr. */
export function splitIdentity(stderr: string): { identity?: ExecIdentity; rest: string } {
  const match = /^@powercut-exec (\d+) (\d+)\n/.exec(stderr);
  if (!match) return { rest: stderr };
  return {
    identity: { pid: Number(match[1]), startTime: match[2]! },
    rest: stderr.slice(match[0].length),
  };
}

/**
 * Kills a timed-out command and everything it started: its shell (only while it is still the
 * process that reported itself: same start time, so a recycled pid is never hit) and the
 * shell's descendants, found by parent pid in /proc. Each is stopped as it is found, so none
 * can start another behind the walk; then all are killed. The process group is no help here:
 * dropbear leaves a session's shell in the group of its connection process.
 */
export function killTreeScript({ pid, startTime }: ExecIdentity): string {
  if (!Number.isInteger(pid) || pid <= 1 || !/^\d+$/.test(startTime))
    throw new HarnessError(`refusing to kill pid ${pid} (start time ${startTime})`);
  return [
    `read -r s 2>/dev/null < /proc/${pid}/stat || exit 0`,
    'set -- ${s##*) }',
    `[ "\${20}" = ${startTime} ] || exit 0`,
    `kill -STOP ${pid}`,
    `all=" ${pid} "; found=1`,
    'while [ -n "$found" ]; do',
    '  found=',
    '  for f in /proc/[0-9]*/stat; do',
    '    read -r s 2>/dev/null < $f || continue',
    '    p=${f#/proc/}; p=${p%/stat}; set -- ${s##*) }',
    '    case "$all" in *" $p "*) continue ;; *" $2 "*) all="$all$p "; kill -STOP $p 2>/dev/null; found=1 ;; esac',
    '  done',
    'done',
    'kill -9 $all 2>/dev/null; true',
  ].join('\n');
}
