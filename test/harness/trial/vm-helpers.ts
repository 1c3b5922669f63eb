import type { TestFn } from 'ava';
import { startQemuTarget } from '../../../src/harness/target/qemu.ts';
import type { SshTarget } from '../../../src/harness/target/ssh.ts';
import { installGuestEngine } from '../../../src/harness/trial/guest-engine.ts';
import { parseScenario } from '../../../src/scenario/load.ts';
import { expandScenario } from '../../../src/scenario/expand.ts';
import type { TrialPlan } from '../../../src/model/trial-plan.ts';

/** Trial plans from an inline scenario (the same path a YAML file takes). */
export function plans(yaml: string, seed = 11): TrialPlan[] {
  return expandScenario(parseScenario('inline.yaml', yaml), { baseSeed: seed });
}

/**
 * One embedded guest for a test file, booted before its tests with the built-in engines
 * installed, torn down after them. Returns the getter of the running target.
 */
export function guestWithEngines(test: TestFn): () => SshTarget {
  let target: SshTarget | undefined;
  test.before(async () => {
    target = await startQemuTarget();
    await installGuestEngine(target);
  });
  test.after.always(async () => {
    await target?.teardown();
  });
  return () => {
    if (!target) throw new Error('the guest is not running (test.before failed?)');
    return target;
  };
}
