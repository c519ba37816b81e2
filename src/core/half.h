// bf16 and IEEE fp16 conversions. Rounding to nearest even, as PyTorch and
// the F16C instructions do, so our files match theirs bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

namespace nibble {

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// The fp16 value nearest to f, as a float.
inline float round_to_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

}  // namespace nibble
