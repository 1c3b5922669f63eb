import test from 'ava';
import { formatExploration } from '../../src/cli/format.ts';
import type { ExplorationReport } from '../../src/model/trial-result.ts';

const exploration = (extra: Partial<ExplorationReport> = {}): ExplorationReport => ({
  mode: 'reorder:2',
  logEntries: 60,
  startEntry: 1,
  sectorSize: 512,
  checked: 70,
  byBoundary: { flush: 18, reorder: 52 },
  statesPerSecond: 5.27,
  exploreMs: 13_280,
  replayMatchesDevice: true,
  failing: [],
  errors: [],
  states: [],
  ...extra,
});

test('an exploration: states by boundary, rate, and the replay check', (t) => {
  t.is(
    formatExploration(exploration()),
    '       explored 70 crash states (reorder:2: flush 18, reorder 52) of 58 logged writes/flushes/marks, 5.27 states/s; replay matches device: yes',
  );
});

test('a screened exploration says how many states the kernel confirmed, and any disagreement', (t) => {
  const screen = { screened: 70, confirmed: 7, disagreements: [], ms: 4_200, downloadMs: 900 };
  const lines = formatExploration(exploration({ screen })).split('\n');
  t.is(
    lines[1],
    '       screened on the host: 70 states in 4.2 s; the kernel confirmed 7 (every failing one, a sample of the rest)',
  );
  const disagreeing = formatExploration(
    exploration({
      screen: { ...screen, disagreements: [{ id: '41~39', host: true, kernel: false }] },
    }),
  );
  t.regex(disagreeing, /host and kernel disagreed on 41~39 \(the kernel's verdict stands\)/);
});
