import { randomBytes } from 'node:crypto';
import { HarnessError } from '../errors.ts';
import type { RemoteProcess, Target } from '../target/target.ts';
import { ownerIdLength, ownersDir } from './names.ts';

/**
 * Proof that a run is alive. Each powercut process holds, per target connection, an exclusive
 * flock on `/var/tmp/powercut/owners/<owner>.lock` in the target, taken by a process that reads
 * the connection's stdin and so ends with the connection (or with this process, even SIGKILLed).
 * Every resource it creates is named by a run id starting with the owner id. A sweep removes a
 * resource only when its owner's lock is free: another live run on the same target is never
 * touched.
 */
export class Ownership {
  private seq = 0;

  constructor(
    readonly ownerId: string,
    private readonly holder: RemoteProcess,
  ) {}

  /** A fresh run id for one trial's resources (`<owner><seq>`, unique for this owner). */
  newRunId(): string {
    return `${this.ownerId}${(this.seq++).toString(36)}`;
  }

  get lockFile(): string {
    return lockFileOf(this.ownerId);
  }

  /** Gives the lock up (resources still named by this owner become sweepable). */
  async release(): Promise<void> {
    this.holder.stdin.end();
    await this.holder.done.catch(() => undefined);
  }
}

export const lockFileOf = (ownerId: string): string => `${ownersDir}/${ownerId}.lock`;

const leases = new WeakMap<Target, Promise<Ownership>>();

/** This process's ownership on `target` (acquired once per target, held until it is torn down). */
export function ownership(target: Target): Promise<Ownership> {
  let lease = leases.get(target);
  if (!lease) {
    lease = acquire(target);
    leases.set(target, lease);
    lease.catch(() => leases.delete(target));
  }
  return lease;
}

const lockedLine = '__powercut_owner_locked';

async function acquire(target: Target): Promise<Ownership> {
  const ownerId = randomOwnerId();
  const lock = lockFileOf(ownerId);
  await target.exec(`mkdir -p ${ownersDir}`);
  // flock creates the file and takes the lock; `cat` holds it until stdin (the connection)
  // ends; then the file is removed, still under the lock. (A holder killed outright leaves a
  // free lock file behind, which the next sweep removes.)
  const holder = await target.spawn(
    `flock -x -w 30 ${lock} sh -c 'echo ${lockedLine}; cat >/dev/null; rm -f ${lock}'`,
  );
  const lines = holder.lines[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || first.value !== lockedLine) {
    const end = await holder.done.catch(() => undefined);
    throw new HarnessError(
      `could not take the owner lock ${lock} in the target (is util-linux's flock installed?): ${end?.stderr.trim() || 'no answer'}`,
    );
  }
  return new Ownership(ownerId, holder);
}

function randomOwnerId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(ownerIdLength)].map((b) => alphabet[b % alphabet.length]).join('');
}
