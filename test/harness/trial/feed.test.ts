import test from 'ava';
import type { HistoryEvent } from '../../../src/model/history.ts';
import type { WorkloadOp } from '../../../src/model/workload.ts';
import { settled } from '../../../src/harness/trial/feed.ts';

const w = (id: number, page = 0): WorkloadOp => ({ op: 'write', id, page, value: `w${id}` });
const ev = (id: number, type: 'invoke' | 'ok' | 'fail'): HistoryEvent =>
  type === 'fail' ? { id, type, t: 0, err: 'EIO' } : { id, type, t: 0 };

test('non-transactional: settled once every fed write is acked or failed', (t) => {
  const fed = [w(1), w(2), { op: 'mark', id: 3, name: 'm' } as WorkloadOp];
  t.false(settled([ev(1, 'invoke'), ev(1, 'ok'), ev(2, 'invoke')], fed, false));
  t.true(settled([ev(1, 'invoke'), ev(1, 'ok'), ev(2, 'invoke'), ev(2, 'fail')], fed, false));
});

test('transactional: commits must complete, writes of the open transaction only be invoked', (t) => {
  const fed: WorkloadOp[] = [w(1), { op: 'commit', id: 2 }, w(3)];
  t.false(
    settled([ev(1, 'invoke'), ev(2, 'invoke'), ev(2, 'ok')], fed, true),
    'write 3 not taken yet',
  );
  t.false(
    settled([ev(1, 'invoke'), ev(2, 'invoke'), ev(3, 'invoke')], fed, true),
    'commit 2 not answered',
  );
  t.true(settled([ev(1, 'invoke'), ev(2, 'invoke'), ev(2, 'ok'), ev(3, 'invoke')], fed, true));
});
