import test from 'ava';
import fc from 'fast-check';
import type { DumpEntry, History, HistoryEvent } from '../../src/model/history.ts';
import type { WorkloadOp } from '../../src/model/workload.ts';
import { workloadArb } from '../../src/oracles/arbitraries.ts';
import { check } from '../../src/oracles/check.ts';

/** A correct sequential engine, as a model: every write acked in order; the last write per page survives. */
function model(ops: WorkloadOp[], pages: number): { history: History; dump: DumpEntry[] } {
  const events: HistoryEvent[] = [];
  const state = new Map<number, string>();
  for (const op of ops) {
    if (op.op !== 'write') continue;
    events.push(
      { id: op.id, type: 'invoke', t: events.length },
      { id: op.id, type: 'ok', t: events.length + 1 },
    );
    state.set(op.page, op.value);
  }
  events.push({ type: 'nemesis', t: events.length, action: 'crash' });
  return {
    history: { ops, events },
    dump: Array.from({ length: pages }, (_, page) => ({ page, value: state.get(page) ?? null })),
  };
}

const shape = { pages: 6, maxOps: 30 };

test('a correct engine model is always valid', (t) => {
  fc.assert(
    fc.property(workloadArb(shape), (ops) => {
      const { history, dump } = model(ops, shape.pages);
      return check(history, dump, { transactional: false }).valid;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('dropping an acknowledged value is always found as lost-ack', (t) => {
  fc.assert(
    fc.property(workloadArb({ ...shape, minOps: 1 }), fc.nat(), (ops, pick) => {
      const { history, dump } = model(ops, shape.pages);
      const written = dump.filter((d) => 'value' in d && d.value !== null);
      const victim = written[pick % written.length]!;
      const broken = dump.map((d) => (d.page === victim.page ? { page: d.page, value: null } : d));
      return check(history, broken, { transactional: false }).anomalies.some(
        (a) => a.kind === 'lost-ack' && a.page === victim.page,
      );
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('an older value in place of the newest is found as lost-ack; an invented one as phantom', (t) => {
  fc.assert(
    fc.property(workloadArb({ ...shape, minOps: 2 }), (ops) => {
      const { history, dump } = model(ops, shape.pages);
      const writes = ops.filter((o) => o.op === 'write');
      const byPage = new Map<number, string[]>();
      for (const w of writes) byPage.set(w.page, [...(byPage.get(w.page) ?? []), w.value]);
      const page = [...byPage.entries()].find(([, vs]) => vs.length > 1)?.[0];
      const invented = dump.map((d, i) => (i === 0 ? { page: 0, value: 'invented' } : d));
      const phantomFound = check(history, invented, { transactional: false }).anomalies.some(
        (a) => a.kind === 'phantom',
      );
      if (page === undefined) return phantomFound;
      const older = dump.map((d) => (d.page === page ? { page, value: byPage.get(page)![0]! } : d));
      return (
        phantomFound &&
        check(history, older, { transactional: false }).anomalies.some(
          (a) => a.kind === 'lost-ack' && a.page === page,
        )
      );
    }),
    { numRuns: 300 },
  );
  t.pass();
});
