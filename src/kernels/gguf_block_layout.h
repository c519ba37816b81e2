// The byte layouts of llama.cpp's weight blocks (shared/specs/gguf.md §4-5),
// as plain structs. They live here, beside the kernels, because two modules
// read them: formats (the codecs, formats/gguf_blocks.h) and kernels (which
// repack GGUF blocks into their own layout at load, kernels/gguf_matmul.h),
// and kernels may only depend on core.
//
// All fields are little-endian; `d`, `m`, `dmin` are IEEE f16 bit patterns
// (core/half.h) except Q8_K's f32 `d`. Block pointers must be 2-byte aligned
// (4 for Q8_K), which GGUF's tensor alignment (>= 32) guarantees.
//
// Only <cstdint>: the per-ISA kernel files include this (cmake/isa_flags.cmake).
#pragma once

#include <cstdint>

namespace nibble::kernels {

constexpr int kQK = 32;    // elements per legacy block (Q4_0 .. Q8_0, IQ4_NL)
constexpr int kQK_K = 256; // elements per k-quant super-block

// y = d * (q - 8); q of elem e < 16 in qs[e] & 15, of e >= 16 in qs[e - 16] >> 4.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
// y = d * q + m (nibbles as Q4_0).
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
// y = d * (q - 16); bit 4 of elem e is bit e of qh (read as u32 LE).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
// y = d * q + m (5-bit q as Q5_0).
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
// y = d * qs[e].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
// y = d * kIq4nlValues[q] (nibbles as Q4_0).
struct BlockIq4Nl {
  uint16_t d;
  uint8_t qs[16];
};
// Activations for the k-quant dot products: f32 d, bsums[k] = sum of qs[16k .. 16k + 15].
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};
// Sixteen sub-blocks of 16: scales[k] = scale code | min code << 4; 2-bit q in bit planes.
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};
// Sixteen sub-blocks of 16: 3-bit q (2 low bits in planes, high bit in hmask), 6-bit scales.
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
// Eight sub-blocks of 32: 6-bit (scale, min) pairs packed in 12 bytes, 4-bit q.
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
// As Q4_K plus a fifth bit per element in qh.
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
// Sixteen sub-blocks of 16: 6-bit q (4 low bits in ql, 2 high in qh), int8 scales.
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockIq4Nl) == 18);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

// IQ4_NL's sixteen levels (spec §5).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

// Sub-block j (< 8) of a Q4_K / Q5_K block: its 6-bit scale and min codes.
inline void kquant_scale_min(const uint8_t* scales, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = uint8_t((scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4));
    *m = uint8_t((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Sub-block j (< 16) of a Q3_K block: its scale, -32 .. 31.
inline int q3k_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace nibble::kernels
