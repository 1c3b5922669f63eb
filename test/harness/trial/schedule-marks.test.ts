import test from 'ava';
import { recordedDownWindow, scheduleMarginMs } from '../../../src/harness/trial/schedule-marks.ts';

const m = scheduleMarginMs;

test('a lying fault (drop_writes) is recorded as down from a margin before to a margin after', (t) => {
  // up 5 s, down 1 s, table loaded at 1000: the 2nd down interval is 12000..13000.
  t.like(recordedDownWindow('drop_writes', { up: 5, down: 1 }, 1000, 1), {
    armAtMs: 12000 - m,
    disarmAtMs: 13000 + m,
  });
});

test('an erroring fault (error_writes) is recorded only where it was surely down', (t) => {
  t.like(recordedDownWindow('error_writes', { up: 5, down: 1 }, 1000, 1), {
    armAtMs: 12000 + m,
    disarmAtMs: 13000 - m,
  });
});

test('a down interval shorter than two margins records no error window; a short up interval keeps a lying fault armed', (t) => {
  const noWindow = recordedDownWindow('error_writes', { up: 5, down: (2 * m) / 1000 }, 0, 0);
  t.is(noWindow.armAtMs, undefined);
  t.is(noWindow.disarmAtMs, undefined);
  const stays = recordedDownWindow('drop_writes', { up: m / 1000, down: 5 }, 0, 0);
  t.is(stays.armAtMs, 0);
  t.is(stays.disarmAtMs, undefined);
});
