import test from 'ava';
import { HarnessError } from '../../src/harness/errors.ts';
import { withTimeout } from '../../src/harness/timeout.ts';

const after = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

test('an answer in time is the answer; the timer is not left behind', async (t) => {
  t.is(await withTimeout(after(10, 'done'), 1000, 'the wait'), 'done');
});

test('too late: onTimeout ends the work, and the timeout is the error even though that settled it', async (t) => {
  let end: (value: string) => void = () => undefined;
  const work = new Promise<string>((resolve) => (end = resolve));
  let ended = false;
  await t.throwsAsync(
    withTimeout(work, 50, '`sleep 600`', () => {
      ended = true;
      end('killed'); // killing the command settles it: still a timeout
    }),
    { instanceOf: HarnessError, message: '`sleep 600` timed out after 50 ms' },
  );
  t.true(ended);
});

test('a failing onTimeout does not hide the timeout', async (t) => {
  await t.throwsAsync(
    withTimeout(new Promise(() => undefined), 20, 'the wait for the explorer', () => {
      throw new Error('kill failed');
    }),
    { message: 'the wait for the explorer timed out after 20 ms' },
  );
});
