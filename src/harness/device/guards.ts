import { HarnessError } from '../errors.ts';
import { raw, sh } from '../target/shell.ts';
import { dmToolPath } from './dm-tool.ts';
import { isOurBackingFile, runOfMountPoint, runOfTable, runOfBackingFile } from './names.ts';

/**
 * Shell for removing what powercut created, each command guarded so that it acts only on a
 * resource that is provably there and provably ours: a mount point only if the mount table lists
 * it, a dm table only by its own name, a loop device only while its backing file is ours, a
 * process only while its pid still has the start time recorded when it was started. Nothing is
 * ever selected by a path that could belong to something else (no `fuser -k`, no globbing).
 * Each script is one subshell, so scripts compose: an `exit` in one never skips the next.
 */

const subshell = (lines: readonly string[]): string => `(\n${lines.join('\n')}\n)`;

function mustBe(ok: boolean, what: string, value: string, action = 'remove'): void {
  if (!ok)
    throw new HarnessError(
      `refusing to ${action} ${what} ${JSON.stringify(value)}: not powercut's`,
    );
}

/** Exits 0 when `mountPoint` is a mount point now (from the kernel's mount table). */
export const isMountedScript = (mountPoint: string): string =>
  sh`awk -v mp=${mountPoint} '$5 == mp {f=1} END {exit !f}' /proc/self/mountinfo`;

/**
 * Unmounts one of our mount points if (and only if) it is mounted, retrying while busy; a
 * mount still busy after that is detached lazily and reported with who holds it (psmisc's
 * `fuser -M`, which answers only for a real mount point; never `-k`). Then removes the
 * directory if nothing is mounted on it. Exits non-zero when something was wrong.
 */
export function unmountOwnScript(mountPoint: string): string {
  mustBe(runOfMountPoint(mountPoint) !== undefined, 'mount point', mountPoint);
  const mounted = isMountedScript(mountPoint);
  return subshell([
    'rc=0',
    sh`if ${raw(mounted)}; then`,
    '  i=0',
    sh`  until umount ${mountPoint} 2>/dev/null; do`,
    '    i=$((i+1))',
    '    if [ $i -ge 30 ]; then',
    sh`      echo ${mountPoint}" still busy after the engine was killed; held by: $(fuser -M -m ${mountPoint} 2>&1 | tr -s ' \\n' ' '); detached lazily" >&2`,
    sh`      umount -l ${mountPoint} || exit 1`,
    '      rc=3; break',
    '    fi',
    '    sleep 0.1',
    '  done',
    'fi',
    sh`if [ -d ${mountPoint} ] && ! ${raw(mounted)}; then rmdir ${mountPoint} || rc=1; fi`,
    'exit $rc',
  ]);
}

/**
 * The power cut's unmount of our mount point: retried while busy for `seconds` (at least one
 * more try after that), never lazily. A filesystem detached lazily lives on with its dirty pages,
 * and they would reach the disk once the table is linear again: writes made after the plug was
 * pulled. Exits 3, naming who holds the mount, when it stays busy; 0 when it is not mounted
 * (any more).
 */
export function unmountAfterCrashScript(mountPoint: string, seconds = 10): string {
  mustBe(runOfMountPoint(mountPoint) !== undefined, 'mount point', mountPoint);
  if (!Number.isInteger(seconds) || seconds < 0)
    throw new HarnessError(`unmount retry time ${seconds}: not a whole number of seconds`);
  const mounted = isMountedScript(mountPoint);
  return subshell([
    `until=$(( $(date +%s) + ${seconds} ))`,
    sh`while ${raw(mounted)}; do`,
    sh`  err=$(umount ${mountPoint} 2>&1) && break`,
    '  if [ "$(date +%s)" -ge "$until" ]; then',
    sh`    echo "umount ${raw(mountPoint)}: $err; held by: $(fuser -M -m ${mountPoint} 2>&1 | tr -s ' \n' ' ')" >&2`,
    '    exit 3',
    '  fi',
    '  sleep 0.1',
    'done',
  ]);
}

/**
 * Removes one of our dm tables by name, if it exists. Whether it exists is read from sysfs
 * (each dm device's dm/name) where there is one: a `dmsetup info` start cost ~100 ms under TCG.
 * The removal is powercut-dm's (retried while busy) where it is installed, else dmsetup's.
 */
export function removeOwnTableScript(table: string): string {
  mustBe(runOfTable(table) !== undefined, 'dm table', table);
  return subshell([
    sh`if [ -d /sys/block ]; then cat /sys/block/dm-*/dm/name 2>/dev/null | grep -qxF ${table} || exit 0`,
    sh`elif ! dmsetup info ${table} >/dev/null 2>&1; then exit 0; fi`,
    sh`if [ -x ${dmToolPath} ] && ${dmToolPath} remove ${table}; then exit 0; fi`,
    sh`dmsetup remove --retry ${table} 2>/dev/null || dmsetup remove --force ${table}`,
  ]);
}

/**
 * Lists the bound loop devices, one `DEVICE BACKING-FILE` line each (" (deleted)" cut): from
 * sysfs with shell builtins only (a losetup start costs ~50 ms under TCG), or losetup's listing
 * where there is no /sys/block. `sys` is for tests of the fallback.
 */
export function loopListScript(sys = '/sys'): string {
  return [
    sh`if [ -d ${sys}/block ]; then for s in ${raw(`${sys}/block`)}/loop*/loop/backing_file; do`,
    '  [ -r "$s" ] && read -r b < "$s" || continue',
    sh`  l=\${s#${sys}/block/}; echo "/dev/\${l%%/*} \${b% (deleted)}"`,
    "done; else losetup --raw --noheadings --output NAME,BACK-FILE --list | sed 's/ (deleted)$//'; fi",
  ].join('\n');
}

/** Detaches the loop devices backed by our files (by backing file, never by device number). */
export function detachOwnLoopsScript(files: readonly string[], sys = '/sys'): string {
  for (const f of files) mustBe(isOurBackingFile(f), 'backing file', f);
  const ours = files.map((f) => sh`[ "$b" = ${f} ]`).join(' || ');
  return subshell([
    `${loopListScript(sys)} | while read -r d b; do`,
    `  if ${ours}; then losetup -d "$d" || exit 1; fi`,
    'done',
  ]);
}

/**
 * Shell that sets `b` to the file behind the loop device in `$d`, " (deleted)" cut, empty when
 * it is no bound loop device: from sysfs with a builtin read (a losetup start costs ~50 ms
 * under TCG), from losetup where sysfs has no entry for it.
 */
const backingFileScript = (sys: string): string =>
  sh`f=${sys}/block/\${d#/dev/}/loop/backing_file; if [ -r "$f" ]; then read -r b < "$f"; else b=$(losetup -n -O BACK-FILE "$d" 2>/dev/null); fi; b=\${b% (deleted)}`;

/**
 * Exits 1 (and says why) unless `device` is a loop device backed by `file`, one of ours: the
 * guard in front of anything that writes to a device (dm table create, mkfs), in the same
 * script so nothing can change in between. `device` is a loop device's path or the shell
 * variable `$L`/`$LL` a script set from `losetup --find --show`. `sys` is for tests.
 */
export function requireOwnLoopScript(device: string, file: string, sys = '/sys'): string {
  const use = 'write to';
  mustBe(/^(\/dev\/loop\d+|\$LL?)$/.test(device), 'loop device', device, use);
  mustBe(isOurBackingFile(file), 'backing file', file, use);
  return `d="${device}"; ${backingFileScript(sys)}; [ "$b" = ${file} ] || { echo "refusing ${device}: a loop device powercut did not create (backed by \${b:-nothing})" >&2; exit 1; }`;
}

/** Detaches one loop device, only while it is still backed by `file` (one of ours). */
export function detachLoopIfBackedByScript(device: string, file: string, sys = '/sys'): string {
  mustBe(/^\/dev\/loop\d+$/.test(device), 'loop device', device);
  mustBe(isOurBackingFile(file), 'backing file', file);
  return subshell([
    `d=${device}; ${backingFileScript(sys)}`,
    sh`[ "$b" = ${file} ] && losetup -d ${device}; true`,
  ]);
}

/** Removes one trial's backing directory (`/var/tmp/powercut/<run id>`), nothing above it. */
export function removeOwnDirScript(dir: string): string {
  mustBe(runOfBackingFile(`${dir}/x`) !== undefined, 'directory', dir);
  return sh`rm -rf ${dir}`;
}

/** The start time (clock ticks since boot, /proc/PID/stat field 22) of a pid, in shell. */
export const startTimeOf = (pid: string): string =>
  `$(sed 's/^.*) //' /proc/${pid}/stat 2>/dev/null | cut -d' ' -f20)`;

/** Kills a process only while its start time is the one recorded when powercut started it. */
export function killIfStartedAtScript(pid: number, startTime: string): string {
  if (!Number.isInteger(pid) || pid <= 1 || !/^\d+$/.test(startTime))
    throw new HarnessError(`refusing to kill pid ${pid} (start time ${startTime})`);
  return sh`[ "${raw(startTimeOf(String(pid)))}" = ${startTime} ] && kill -KILL ${pid} 2>/dev/null; true`;
}

/** Kills the process recorded in a pid file (`PID STARTTIME`), only if it is still that process. */
export function killFromPidFileScript(pidFile: string): string {
  mustBe(isOurBackingFile(pidFile), 'pid file', pidFile);
  return sh`if [ -f ${pidFile} ]; then read p st < ${pidFile}; case "$p$st" in *[!0-9]*|'') ;; *) [ "$p" -gt 1 ] && [ "${raw(startTimeOf('$p'))}" = "$st" ] && kill -KILL $p 2>/dev/null ;; esac; fi; true`;
}
