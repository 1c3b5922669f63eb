import { HarnessError } from '../errors.ts';
import type { ExecResult } from './target.ts';

/** `result`, or (when `check` is set and it did not exit 0) a HarnessError naming the command. */
export function checkResult(result: ExecResult, check: boolean): ExecResult {
  if (check && result.code !== 0) {
    const why = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new HarnessError(
      `\`${result.command}\` exited ${result.code ?? result.signal ?? 'without a code'}${why ? `: ${why}` : ''}`,
    );
  }
  return result;
}
