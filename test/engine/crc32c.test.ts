import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  crc32c,
  crc32cImplementation,
  crc32cJs,
  crc32cZeroingField,
} from '../../src/engine/crc32c.ts';

test('crc32c: the standard check value and known vectors', (t) => {
  t.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  t.is(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  t.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
});

test('crc32c: continuing from a prefix equals one pass over the whole', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const at = bytes.length === 0 ? 0 : cut % bytes.length;
      return crc32c(bytes.subarray(at), crc32c(bytes.subarray(0, at))) === crc32c(bytes);
    }),
  );
  t.pass();
});

test('crc32cZeroingField equals the CRC of a copy with that field zeroed, and leaves the input alone', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 600 }), fc.nat(), (bytes, at) => {
      const field = at % (bytes.length - 3);
      const before = bytes.slice();
      const copy = bytes.slice();
      copy.fill(0, field, field + 4);
      return (
        crc32cZeroingField(bytes, field) === crc32c(copy) && before.every((b, i) => b === bytes[i])
      );
    }),
  );
  t.pass();
});

test('the native CRC32C is used where the CPU has a crc32 instruction, and equals the JS one', (t) => {
  const sse42 = process.arch === 'x64' && /\bsse4_2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  t.is(crc32cImplementation(), sse42 ? 'native' : 'js');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), (bytes, seed) => {
      const start = seed >>> 0;
      return crc32c(bytes, start) === crc32cJs(bytes, start) && crc32c(bytes) === crc32cJs(bytes);
    }),
  );
  t.throws(() => crc32cZeroingField(new Uint8Array(8), 6), { instanceOf: RangeError });
});
