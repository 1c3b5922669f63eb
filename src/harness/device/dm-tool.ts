import { guestEngineDir } from '../trial/guest-engine.ts';

/**
 * powercut's device-mapper tool (native/dm/powercut-dm.c, installed with the guest engine):
 * create, reload without a filesystem freeze, and remove, one static process each. A dmsetup
 * start costs ~100 ms under TCG; a trial creates its table, swaps it three times and removes it.
 */
export const dmToolPath = `${guestEngineDir}/powercut-dm`;
