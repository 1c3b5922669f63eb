// The built-in engines' page format, in C for the write path's speed. src/engine/page-format.ts
// is the reference: the same bytes, held equal by property tests (test/engine/page-format.test.ts).
#pragma once

#include <cstddef>
#include <cstdint>

namespace powercut {

using Crc32c = uint32_t (*)(uint32_t crc, const uint8_t *bytes, size_t length);

// From `from` to `end`: xorshift32 steps from `seed`, each a little-endian u32, the last
// partial word that step's low bytes.
void FillXorshift(uint8_t *out, size_t from, size_t end, uint32_t seed);

// The fill's seed as the TypeScript computes it, JavaScript's number semantics included
// (`page * 0x9e3779b1` is a double, then ToInt32).
uint32_t FillSeed(uint32_t payload_crc, uint64_t seq, uint32_t page);

// Header, payload, fill and checksum into `out` (`size` bytes, at least 32 + `length`).
void EncodePage(uint8_t *out, size_t size, uint32_t kind, uint32_t page, uint64_t seq,
                const uint8_t *payload, size_t length, Crc32c crc32c);

}  // namespace powercut
