import test from 'ava';
import { plainEngine } from '../../src/engine/plain.ts';
import { findCounterexample, options } from './sim-helpers.ts';

test('plain loses acknowledged writes: the checker finds it and shrinks it to one write', async (t) => {
  const found = await findCounterexample({ mode: plainEngine, options: options(), tear: false }, [
    'lost-ack',
  ]);
  t.truthy(found, 'loss must be found: plain acknowledges writes it never synced');
  t.log(found!.anomalies[0]!.message);
  t.is(found!.writes, 1);
});
