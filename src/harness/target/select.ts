import { execa } from 'execa';
import { HarnessError } from '../errors.ts';
import { requirePackageRoot } from '../../package-root.ts';
import { LocalTarget } from './local.ts';
import { startQemuTarget } from './qemu.ts';
import { startSshTarget } from './ssh.ts';
import type { Target } from './target.ts';
import { startVagrantTarget, vagrantRunning } from './vagrant.ts';

export type TargetKind = 'auto' | 'qemu' | 'vagrant' | 'ssh' | 'local';
export type StartTargetOptions = {
  log?: (line: string) => void;
  /** qemu: a guest image directory already built (several guests boot from one build). */
  imageDir?: string;
};

const projectRoot = requirePackageRoot();

/** True when this kernel can run trials itself: we are root and dm-flakey is available. */
export async function localHasFlakey(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const loaded = await execa('dmsetup', ['targets'], { reject: false }).catch(() => null);
  if (loaded?.exitCode === 0 && /^flakey\s/m.test(String(loaded.stdout))) return true;
  // Not loaded yet: loadable (or built in) counts too.
  const probe = await execa('modprobe', ['-n', 'dm-flakey'], { reject: false }).catch(() => null);
  return probe?.exitCode === 0;
}

/**
 * The `auto` rule, apart from its probes: the local kernel when it can inject faults itself,
 * else a Vagrant VM the user already started, else the embedded guest (always available).
 */
export async function chooseAutoTarget(probes: {
  localHasFlakey: () => Promise<boolean>;
  vagrantRunning: () => Promise<boolean>;
}): Promise<'local' | 'vagrant' | 'qemu'> {
  if (await probes.localHasFlakey()) return 'local';
  if (await probes.vagrantRunning()) return 'vagrant';
  return 'qemu';
}

/**
 * Starts the target a run asked for. `auto`: local if this kernel has dm-flakey (and we are
 * root), else a running Vagrant VM, else the embedded QEMU guest.
 * `ssh` reads POWERCUT_SSH_HOST, POWERCUT_SSH_PORT, POWERCUT_SSH_USER, POWERCUT_SSH_KEY.
 */
export async function startTarget(
  kind: TargetKind,
  options: StartTargetOptions = {},
): Promise<Target> {
  switch (kind) {
    case 'local':
      if (!(await localHasFlakey()))
        throw new HarnessError('target local: this kernel has no dm-flakey (or we are not root)');
      return new LocalTarget();
    case 'vagrant':
      return startVagrantTarget(projectRoot);
    case 'ssh': {
      const host = process.env.POWERCUT_SSH_HOST;
      const key = process.env.POWERCUT_SSH_KEY;
      if (!host || !key)
        throw new HarnessError('target ssh needs POWERCUT_SSH_HOST and POWERCUT_SSH_KEY');
      return startSshTarget({
        host,
        port: Number(process.env.POWERCUT_SSH_PORT ?? 22),
        username: process.env.POWERCUT_SSH_USER ?? 'root',
        privateKeyPath: key,
        ...(process.env.POWERCUT_SSH_HOST_KEY
          ? { hostKey: process.env.POWERCUT_SSH_HOST_KEY }
          : {}),
      });
    }
    case 'qemu':
      return startQemuTarget({
        ...(options.log ? { log: options.log } : {}),
        ...(options.imageDir ? { imageDir: options.imageDir } : {}),
      });
    case 'auto':
      return startTarget(await resolveTargetKind('auto', options), options);
  }
}

/** The concrete kind `auto` stands for here (other kinds stand for themselves). */
export async function resolveTargetKind(
  kind: TargetKind,
  options: StartTargetOptions = {},
): Promise<Exclude<TargetKind, 'auto'>> {
  if (kind !== 'auto') return kind;
  const chosen = await chooseAutoTarget({
    localHasFlakey,
    vagrantRunning: () => vagrantRunning(projectRoot),
  });
  options.log?.(`target auto: ${chosen}`);
  return chosen;
}
