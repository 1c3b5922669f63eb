import test from 'ava';
import fc from 'fast-check';
import { isAllZero } from '../../src/engine/zero-bytes.ts';

test('isAllZero agrees with a byte-by-byte check, at any offset and length in a buffer', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 0, max: 200 }),
      fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
      (offset, length, nonZero) => {
        const bytes = new Uint8Array(new ArrayBuffer(offset + length + 16), offset, length);
        if (nonZero && length > 0) bytes[nonZero[0] % length] = nonZero[1];
        return isAllZero(bytes) === bytes.every((b) => b === 0);
      },
    ),
  );
  t.true(isAllZero(new Uint8Array(4096)));
  const last = new Uint8Array(4096);
  last[4095] = 1;
  t.false(isAllZero(last), 'the last byte counts');
  const long = new Uint8Array(100_000);
  t.true(isAllZero(long), 'longer than the zeros it starts with');
  long[99_999] = 1;
  t.false(isAllZero(long), 'the last byte of a long buffer counts');
});
