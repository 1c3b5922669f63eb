import { execFileSync } from 'node:child_process';

/** The shells targets run commands with, as far as this machine has them: dash (/bin/sh on Debian), busybox ash (the embedded guest's). */
export const targetShells: string[][] = [['dash'], ['busybox', 'ash']].filter((argv) => {
  try {
    execFileSync(argv[0]!, [...argv.slice(1), '-c', 'true']);
    return true;
  } catch {
    return false;
  }
});
