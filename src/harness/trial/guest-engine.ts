import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { requirePackageRoot } from '../../package-root.ts';
import type { Target } from '../target/target.ts';
import { uploadedPath } from '../../model/uploaded-path.ts';

export const guestEngineDir = '/opt/powercut';
/** The node the built-in engines run on in a target: its own, or the host's, uploaded. */
export const guestNode = `${guestEngineDir}/bin/node`;
export const guestEngineCommand = `${guestNode} ${guestEngineDir}/powercut-engine.cjs`;

const bundleFiles = [
  'powercut-engine.cjs',
  'powercut-explore.mjs',
  'powercut-agent.mjs',
  'powercut_native.node',
  // The tracer every engine runs under, and the table swap of every fault device (static: they
  // run on any x86_64 Linux target).
  'powercut-stop',
  'powercut-dm',
] as const;
export const guestExplorerCommand = `${guestNode} ${guestEngineDir}/powercut-explore.mjs serve`;
/** The trial agent (src/harness/agent/): runs whole trials inside the target. */
export const guestAgentCommand = `${guestNode} ${guestEngineDir}/powercut-agent.mjs`;

let bundled: Promise<string> | undefined;

/**
 * dist/guest/: the engine CLI and the explorer bundled, the native addon, the tracer. In a
 * checkout it is rebuilt once per process from the current sources (~0.1 s), so the target
 * never runs a stale engine; an installed package ships it built (`prepare`).
 */
export function buildGuestBundle(): Promise<string> {
  bundled ??= (async () => {
    const projectRoot = requirePackageRoot();
    const dir = join(projectRoot, 'dist/guest');
    const script = join(projectRoot, 'scripts/bundle-guest.mjs');
    if (existsSync(script) && existsSync(join(projectRoot, 'src')))
      await execa('node', [script], { cwd: projectRoot });
    for (const f of bundleFiles) {
      if (!existsSync(join(dir, f)))
        throw new HarnessError(`guest bundle incomplete: ${join(dir, f)} missing`);
    }
    return dir;
  })();
  return bundled;
}

/**
 * Makes sure the target has the current built-in engines under /opt/powercut (uploads only
 * files whose sha256 differs), so the VM image never has to be rebuilt for an engine change.
 */
export async function installGuestEngine(target: Target): Promise<void> {
  const dir = await buildGuestBundle();
  await installNode(target);
  const remote = await target.exec(
    `cd ${guestEngineDir} 2>/dev/null && sha256sum ${bundleFiles.join(' ')} 2>/dev/null`,
    {
      check: false,
    },
  );
  for (const file of bundleFiles) {
    const local = createHash('sha256')
      .update(await readFile(join(dir, file)))
      .digest('hex');
    if (!remote.stdout.includes(`${local}  ${file}`)) {
      await target.upload(join(dir, file), `${guestEngineDir}/${file}`, 0o755);
    }
  }
}

/**
 * Makes `/opt/powercut/bin/node` a node that runs in the target: the target's own (a link), or
 * else the host's binary, uploaded, as the embedded guest gets it (a Debian 12 target has the
 * same glibc and libstdc++). The engines' bundle and addon are Node-API, so either runs them.
 */
async function installNode(target: Target): Promise<void> {
  const probe = await target.exec(
    `if ${guestNode} --version >/dev/null 2>&1; then echo ready; elif n=$(command -v node); then mkdir -p ${dirname(guestNode)} && ln -sf "$n" ${guestNode} && echo linked; else echo missing; fi`,
    { check: false },
  );
  if (probe.stdout.trim() !== 'missing') return;
  await target.upload(realpathSync(process.execPath), guestNode, 0o755);
  const check = await target.exec(`${guestNode} --version 2>&1`, { check: false });
  if (check.code !== 0)
    throw new HarnessError(
      `the target has no node, and this host's node does not run there (${check.stdout.trim().split('\n')[0]}): install nodejs in the target`,
    );
}

/**
 * For a scenario's own engine: runs its host `build` command (once per process, in the
 * scenario file's directory), then uploads `upload` (a file, or a directory with everything it
 * needs) to /opt/powercut/user/ in the target if it changed.
 */
export async function installUserEngine(
  target: Target,
  engine: { upload?: string; build?: string; baseDir?: string },
): Promise<void> {
  const local = await buildUserEngine(engine);
  if (!local || !engine.upload) return;
  const remotePath = uploadedPath(engine.upload);
  const name = basename(remotePath);
  if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..')
    throw new HarnessError(
      `engine.upload: ${JSON.stringify(engine.upload)} has no usable file name`,
    );
  if (!statSync(local).isDirectory()) {
    const hash = createHash('sha256')
      .update(await readFile(local))
      .digest('hex');
    const remote = await target.exec(`sha256sum ${remotePath} 2>/dev/null`, { check: false });
    if (!remote.stdout.startsWith(hash)) await target.upload(local, remotePath, 0o755);
    return;
  }
  // A directory: one tar stream, unpacked into a folder named by its hash, then a symlink moved
  // over the path atomically: a trial running the old version on another slot keeps its files.
  const tar = await execa('tar', ['-C', dirname(local), '-cf', '-', basename(local)], {
    encoding: 'buffer',
  });
  const hash = createHash('sha256').update(tar.stdout).digest('hex').slice(0, 16);
  const dir = dirname(remotePath);
  const version = `.${name}.${hash}`;
  const current = await target.exec(`readlink ${remotePath} 2>/dev/null`, { check: false });
  if (current.stdout.trim() === version) return;
  await target.exec(
    [
      'set -e',
      `mkdir -p ${dir} && cd ${dir}`,
      // Two slots may upload the same version at once: the first rename wins, same content.
      `if [ ! -d ${version} ]; then t=${version}.tmp.$$; rm -rf $t; mkdir $t; tar -xf - -C $t; mv -T $t/${name} ${version} 2>/dev/null || true; rm -rf $t; else cat > /dev/null; fi`,
      // A folder left by an older powercut (before versions) is replaced once. It is renamed
      // aside first: of two slots doing this at once, one rename wins and the other does nothing.
      `if [ -d ${name} ] && [ ! -L ${name} ]; then o=.${name}.old.$$; mv -T ${name} $o 2>/dev/null && rm -rf $o || true; fi`,
      `ln -s ${version} .${name}.link.$$ && mv -T .${name}.link.$$ ${name}`,
    ].join('\n'),
    { stdin: tar.stdout, timeoutMs: 300_000 },
  );
}

/**
 * Runs the engine's `build` (once per process) and returns the local path of its `upload`,
 * both relative to the scenario file's directory. A failing build shows its whole output.
 */
export async function buildUserEngine(engine: {
  upload?: string;
  build?: string;
  baseDir?: string;
}): Promise<string | undefined> {
  const baseDir = engine.baseDir ?? process.cwd();
  if (engine.build) {
    // Once per process, even when several slots ask at once (one make, not two racing).
    const key = `${baseDir}\0${engine.build}`;
    const build = built.get(key) ?? runBuild(engine.build, baseDir);
    built.set(key, build);
    await build;
  }
  if (!engine.upload) return undefined;
  const local = isAbsolute(engine.upload) ? engine.upload : join(baseDir, engine.upload);
  if (!existsSync(local))
    throw new HarnessError(
      `engine.upload: ${local} does not exist${engine.build ? ` after engine.build \`${engine.build}\`` : ' (add engine.build to make it)'}`,
    );
  return local;
}

const built = new Map<string, Promise<void>>();

async function runBuild(command: string, baseDir: string): Promise<void> {
  const result = await execa({ shell: true, cwd: baseDir, reject: false, all: true })`${command}`;
  if (result.exitCode !== 0)
    throw new HarnessError(
      `engine.build \`${command}\` (in ${baseDir}) failed with exit ${result.exitCode}:\n${String(result.all).trim()}`,
    );
}
