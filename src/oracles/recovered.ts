import type { DumpEntry } from '../model/history.ts';

/** What recovery showed for one page. */
export type Recovered =
  { kind: 'value'; value: string } | { kind: 'null' } | { kind: 'error'; error: string };

export function recoveredByPage(dump: readonly DumpEntry[]): Map<number, Recovered> {
  const map = new Map<number, Recovered>();
  for (const e of dump) {
    if ('error' in e) map.set(e.page, { kind: 'error', error: e.error });
    else if (e.value === null) map.set(e.page, { kind: 'null' });
    else map.set(e.page, { kind: 'value', value: e.value });
  }
  return map;
}

export const shown = (r: Recovered | undefined): string | null =>
  !r || r.kind === 'null' ? null : r.kind === 'error' ? `<${r.error}>` : r.value;
