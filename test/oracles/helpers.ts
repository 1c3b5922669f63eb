import type { DumpEntry, FaultKind, History, HistoryEvent } from '../../src/model/history.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';

/**
 * A tiny history DSL for checker tests: `h('w1:p0', 'w2:p1', 'c3')` declares ops (write 1 to
 * page 0, ..., commit 3), then `.ev('i1 o1 i2 f2 arm:drop_writes crash')` the events in order.
 * Values are `v<id>`.
 */
export function h(...decl: string[]): { ev: (events: string) => History } {
  const ops: WorkloadOp[] = decl.map((d) => {
    const write = /^w(\d+):p(\d+)$/.exec(d);
    if (write)
      return { op: 'write', id: Number(write[1]), page: Number(write[2]), value: `v${write[1]}` };
    const commit = /^c(\d+)$/.exec(d);
    if (commit) return { op: 'commit', id: Number(commit[1]) };
    throw new Error(`bad op ${d}`);
  });
  return {
    ev: (events: string) => ({
      ops,
      events: events
        .split(/\s+/)
        .filter(Boolean)
        .map((e, t): HistoryEvent => {
          const m = /^([iof])(\d+)$/.exec(e);
          if (m) {
            const id = Number(m[2]);
            if (m[1] === 'i') return { id, type: 'invoke', t };
            if (m[1] === 'o') return { id, type: 'ok', t };
            return { id, type: 'fail', t, err: 'EIO' };
          }
          const [action, fault] = e.split(':') as [
            'arm' | 'disarm' | 'crash',
            FaultKind | undefined,
          ];
          return { type: 'nemesis', t, action, ...(fault ? { fault } : {}) };
        }),
    }),
  };
}

/** A dump from `{0: 'v1', 1: null, 2: '!checksum'}`. */
export function dump(pages: Record<number, string | null>): DumpEntry[] {
  return Object.entries(pages).map(([p, v]) =>
    typeof v === 'string' && v.startsWith('!')
      ? { page: Number(p), error: v.slice(1) }
      : { page: Number(p), value: v },
  );
}
