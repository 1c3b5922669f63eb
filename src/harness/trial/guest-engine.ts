import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import type { Target } from '../target/target.ts';
import { uploadedPath } from '../../scenario/uploaded-path.ts';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const guestEngineDir = '/opt/powercut';
export const guestEngineCommand = `node ${guestEngineDir}/powercut-engine.mjs`;

const bundleFiles = [
  'powercut-engine.mjs',
  'powercut-explore.mjs',
  'powercut_native.node',
  // The tracer every engine runs under (static: runs on any x86_64 Linux target).
  'powercut-stop',
] as const;
export const guestExplorerCommand = `node ${guestEngineDir}/powercut-explore.mjs serve`;

let bundled: Promise<string> | undefined;

/**
 * Builds dist/guest/ (esbuild bundle of the engine CLI + the native addon) once per process:
 * always from the current sources (~0.1 s), so the guest never runs a stale engine.
 */
export function buildGuestBundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = join(projectRoot, 'dist/guest');
    await execa('node', [join(projectRoot, 'scripts/bundle-guest.mjs')], { cwd: projectRoot });
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
 * For a scenario's own engine: runs its host `build` command (once per process), then uploads
 * the built file to /opt/powercut/user/ in the target if it changed.
 */
export async function installUserEngine(
  target: Target,
  engine: { upload?: string; build?: string },
): Promise<void> {
  if (!engine.upload) return;
  if (engine.build && !built.has(engine.build)) {
    const result = await execa({
      shell: true,
      cwd: projectRoot,
      reject: false,
      all: true,
    })`${engine.build}`;
    if (result.exitCode !== 0) {
      throw new HarnessError(
        `engine build \`${engine.build}\` failed (exit ${result.exitCode}): ${String(result.all).trim().split('\n').at(-1)}`,
      );
    }
    built.add(engine.build);
  }
  // Absolute, or relative to the current directory, or to the powercut project (scenarios/).
  const local =
    [engine.upload, join(process.cwd(), engine.upload), join(projectRoot, engine.upload)].find(
      (p) => isAbsolute(p) && existsSync(p),
    ) ?? join(projectRoot, engine.upload);
  if (!existsSync(local))
    throw new HarnessError(
      `engine.upload: ${engine.upload} does not exist (add engine.build to make it)`,
    );
  const remotePath = uploadedPath(engine.upload);
  const hash = createHash('sha256')
    .update(await readFile(local))
    .digest('hex');
  const remote = await target.exec(`sha256sum ${remotePath} 2>/dev/null`, { check: false });
  if (!remote.stdout.startsWith(hash)) await target.upload(local, remotePath, 0o755);
}

const built = new Set<string>();
