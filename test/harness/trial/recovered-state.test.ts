import test from 'ava';
import { parseDump } from '../../../src/harness/trial/recovered-state.ts';
import { HarnessError } from '../../../src/harness/errors.ts';

test('parses values, nulls and errors; pages not printed count as missing', (t) => {
  const out =
    '{"page":0,"value":"w1"}\n{"page":1,"value":null}\n{"page":3,"error":"checksum"}\n{"page":9,"value":"beyond"}\n';
  t.deepEqual(parseDump(out, 4), [
    { page: 0, value: 'w1' },
    { page: 1, value: null },
    { page: 2, error: 'missing' },
    { page: 3, error: 'checksum' },
  ]);
});

test('malformed dump lines are harness errors naming the line', (t) => {
  t.throws(() => parseDump('{"page":0,"value":"a"}\nnot json\n', 2), {
    instanceOf: HarnessError,
    message: /line 2/,
  });
  t.throws(() => parseDump('{"value":"a"}\n', 1), { message: /line 1: "page"/ });
  t.throws(() => parseDump('{"page":0,"value":5}\n', 1), { message: /needs "value"/ });
});
