import test from 'ava';
import fc from 'fast-check';
import { crc32c } from '../../src/engine/crc32c.ts';
import { DistinctBytes } from '../../src/model/distinct-bytes.ts';

test('DistinctBytes finds a value by content, exactly: equal bytes in other buffers, never different bytes', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 40 }), (buffers) => {
      const seen = new DistinctBytes<number>();
      const byContent = new Map<string, number>();
      buffers.forEach((b, i) => {
        const id = Buffer.from(b).toString('hex');
        t.is(seen.get(b.slice()), byContent.get(id));
        if (!byContent.has(id)) {
          seen.set(b.slice(), i);
          byContent.set(id, i);
        }
      });
      t.is(seen.size, byContent.size);
    }),
    { seed: 20261127 },
  );
});

test('DistinctBytes tells apart buffers whose CRC32C collides', (t) => {
  // A message followed by its own CRC32C (little-endian) always checksums to the CRC32C
  // residue: such buffers share one bucket, and only the byte compare separates them.
  const withCrc = (text: string): Buffer => {
    const b = Buffer.alloc(text.length + 4);
    b.write(text);
    b.writeUInt32LE(crc32c(b.subarray(0, text.length)), text.length);
    return b;
  };
  const [a, b] = [withCrc('hello'), withCrc('powercut')];
  t.is(crc32c(a), crc32c(b));
  const seen = new DistinctBytes<string>();
  seen.set(a, 'hello');
  t.is(seen.get(b), undefined);
  seen.set(b, 'powercut');
  t.is(seen.get(withCrc('hello')), 'hello');
  t.is(seen.get(withCrc('powercut')), 'powercut');
});
