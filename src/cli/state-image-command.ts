import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { parseLog } from '../logwrites/format.ts';
import { applyEntries } from '../logwrites/replay.ts';
import { parseStateId } from '../logwrites/states.ts';
import { InputError } from '../scenario/find.ts';

/**
 * Rebuilds one crash state of a log-writes trial as a device image on this machine: an empty
 * image of the device's size, then the log's entries before the state, minus the ones it drops.
 * The image can be attached with losetup and mounted to see what the engine saw.
 */
export async function writeStateImage(options: {
  log: string;
  state: string;
  sizeBytes: number;
  out: string;
}): Promise<{ applied: number; bytes: number }> {
  const state = parseStateId(options.state);
  if (!state)
    throw new InputError(
      `--state: ${options.state} is not a state id (AT, AT~I.J, AT^I:SECTORS or AT@I:SECTOR)`,
    );
  const raw = await readFile(options.log).catch((error: Error) => {
    throw new InputError(`${options.log}: ${error.message}`);
  });
  const log = options.log.endsWith('.gz') ? gunzipSync(raw) : raw;
  const { entries, sectorSize } = parseLog((o, n) => log.subarray(o, o + n), log.length);
  if (state.at > entries.length)
    throw new InputError(`--state: ${options.state} lies past the log's ${entries.length} entries`);
  const fd = openSync(options.out, 'w+');
  try {
    ftruncateSync(fd, options.sizeBytes);
    const bytes = applyEntries(
      (o, n) => log.subarray(o, o + n),
      fd,
      entries.slice(0, state.at),
      sectorSize,
      new Set(state.dropped),
      state,
    );
    return { applied: state.at - state.dropped.length, bytes };
  } finally {
    closeSync(fd);
  }
}
