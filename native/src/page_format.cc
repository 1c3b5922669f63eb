#include "page_format.h"

#include <cmath>
#include <cstring>

namespace powercut {
namespace {

constexpr uint32_t kMagic = 0x54554350;  // "PCUT" read as little-endian u32
constexpr size_t kHeader = 32;

inline uint32_t Step(uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

// xorshift32 is linear over GF(2): four steps at once are the XOR of one table entry per byte
// of the state. Four lanes each jumping four steps break the serial chain of one step after
// another (~2.5 µs a 4 KiB page one step at a time, ~1 µs in lanes).
struct Jump4 {
  uint32_t table[4][256];
  Jump4() {
    for (int b = 0; b < 4; b++)
      for (uint32_t v = 0; v < 256; v++) table[b][v] = Step(Step(Step(Step(v << (8 * b)))));
  }
  uint32_t operator()(uint32_t x) const {
    return table[0][x & 255] ^ table[1][(x >> 8) & 255] ^ table[2][(x >> 16) & 255] ^
           table[3][x >> 24];
  }
};

const Jump4 &Jump() {
  static const Jump4 jump;
  return jump;
}

inline void Store32(uint8_t *at, uint32_t x) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(at, &x, 4);
#else
  for (int k = 0; k < 4; k++) at[k] = static_cast<uint8_t>(x >> (8 * k));
#endif
}

inline void Store64(uint8_t *at, uint64_t x) {
  Store32(at, static_cast<uint32_t>(x));
  Store32(at + 4, static_cast<uint32_t>(x >> 32));
}

}  // namespace

void FillXorshift(uint8_t *out, size_t from, size_t end, uint32_t seed) {
  if (from >= end) return;
  size_t bytes = end - from, full = bytes / 4, steps = (bytes + 3) / 4;
  uint8_t *at = out + from;
  uint32_t last;  // the step whose low bytes fill a partial last word
  if (steps < 8) {
    uint32_t x = seed;
    for (size_t k = 0; k < full; k++) Store32(at + 4 * k, x = Step(x));
    last = Step(x);
  } else {
    const Jump4 &jump = Jump();
    uint32_t lane[4];  // words k .. k+3
    uint32_t x = seed;
    for (auto &l : lane) l = x = Step(x);
    size_t k = 0;
    for (; k + 4 <= full; k += 4) {
      for (int i = 0; i < 4; i++) Store32(at + 4 * (k + i), lane[i]);
      for (auto &l : lane) l = jump(l);
    }
    for (size_t i = 0; k + i < full; i++) Store32(at + 4 * (k + i), lane[i]);
    last = lane[full - k];
  }
  for (size_t i = 4 * full, shift = 0; i < bytes; i++, shift += 8)
    at[i] = static_cast<uint8_t>(last >> shift);
}

uint32_t FillSeed(uint32_t payload_crc, uint64_t seq, uint32_t page) {
  // ToInt32 of a non-negative integral double: its value modulo 2^32 (exact in doubles).
  double product = static_cast<double>(page) * 2654435761.0;
  uint32_t mixed = static_cast<uint32_t>(std::fmod(product, 4294967296.0));
  uint32_t seed = payload_crc ^ static_cast<uint32_t>(seq) ^ mixed;
  return seed != 0 ? seed : 1;
}

void EncodePage(uint8_t *out, size_t size, uint32_t kind, uint32_t page, uint64_t seq,
                const uint8_t *payload, size_t length, Crc32c crc32c) {
  Store32(out, kMagic);
  Store32(out + 4, kind);
  Store32(out + 8, page);
  Store32(out + 12, static_cast<uint32_t>(length));
  Store64(out + 16, seq);
  Store32(out + 24, 0);
  Store32(out + 28, 0);
  memcpy(out + kHeader, payload, length);
  FillXorshift(out, kHeader + length, size, FillSeed(crc32c(0, payload, length), seq, page));
  Store32(out + 24, crc32c(0, out, size));
}

}  // namespace powercut
