import type { DumpEntry } from '../../model/history.ts';
import { HarnessError } from '../errors.ts';
import { quote } from './engine-command.ts';
import { rawPagesFromBytes } from '../../engine/direct-layout.ts';

/**
 * Parses an engine's `dump` output (one JSON line per page). Pages the engine did not print
 * count as `{error: 'missing'}`: an engine that silently skips a page must not pass for it.
 */
export function parseDump(stdout: string, pages: number): DumpEntry[] {
  const byPage = new Map<number, DumpEntry>();
  for (const [n, line] of stdout.split('\n').entries()) {
    if (line.trim() === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      throw new HarnessError(`dump line ${n + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    const e = entry as Record<string, unknown>;
    if (typeof e.page !== 'number' || !Number.isInteger(e.page) || e.page < 0) {
      throw new HarnessError(`dump line ${n + 1}: "page" must be a page number`);
    }
    const physical =
      typeof e.physical === 'number' && Number.isInteger(e.physical)
        ? { physical: e.physical }
        : {};
    if (typeof e.error === 'string')
      byPage.set(e.page, { page: e.page, error: e.error, ...physical });
    else if (typeof e.value === 'string' || e.value === null)
      byPage.set(e.page, { page: e.page, value: e.value, ...physical });
    else throw new HarnessError(`dump line ${n + 1}: needs "value" (string or null) or "error"`);
  }
  return Array.from({ length: pages }, (_, page) => byPage.get(page) ?? { page, error: 'missing' });
}

/**
 * The script that prints both ping-pong slots of every page as they are on disk (built-in
 * direct layout), base64 on one line: head + base64 (busybox), not node, whose start costs
 * ~0.5 s under TCG. `parseRawPages` reads its output.
 */
export const rawPagesScript = (store: string, pageSize: number, pages: number): string =>
  `head -c ${rawBytesNeeded(pageSize, pages)} ${quote(store)} | base64 -w 0`;

/** rawPagesScript's output → each page's two slots. */
export function parseRawPages(
  stdout: string,
  store: string,
  pageSize: number,
  pages: number,
): Map<number, Uint8Array[]> {
  const bytesNeeded = rawBytesNeeded(pageSize, pages);
  const bytes = Buffer.from(stdout.trim(), 'base64');
  if (bytes.length !== bytesNeeded) {
    throw new HarnessError(`read ${bytes.length} raw bytes of ${store}, expected ${bytesNeeded}`);
  }
  return rawPagesFromBytes(bytes, pageSize, pages);
}

/** Bytes to read from the start of a built-in direct-layout store for its raw pages. */
export const rawBytesNeeded = (pageSize: number, pages: number): number => 2 * pageSize * pages;
