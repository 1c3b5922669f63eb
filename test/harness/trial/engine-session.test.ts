import test from 'ava';
import { parseEvent } from '../../../src/harness/trial/engine-session.ts';

test('parses every v1 event type', (t) => {
  t.deepEqual(parseEvent('{"id":1,"type":"invoke","t":5}'), { id: 1, type: 'invoke', t: 5 });
  t.deepEqual(parseEvent('{"id":1,"type":"ok","t":6}'), { id: 1, type: 'ok', t: 6 });
  t.deepEqual(parseEvent('{"id":2,"type":"fail","t":7,"err":"EIO"}'), {
    id: 2,
    type: 'fail',
    t: 7,
    err: 'EIO',
  });
  t.deepEqual(parseEvent('{"type":"mark","t":8,"name":"cow:before-meta","paused":true}'), {
    type: 'mark',
    t: 8,
    name: 'cow:before-meta',
    paused: true,
  });
});

test('rejects lines that are not protocol events', (t) => {
  t.is(parseEvent('hello'), null);
  t.is(parseEvent('{"type":"ok","t":1}'), null, 'ok without id');
  t.is(parseEvent('{"id":1,"type":"done"}'), null);
  t.is(parseEvent('[1,2]'), null);
  t.deepEqual(parseEvent('{"id":3,"type":"fail"}'), { id: 3, type: 'fail', t: 0, err: 'EUNKNOWN' });
});
