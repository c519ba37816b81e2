// The packed layout of GgufPackedMatrix (kernels/gguf_matmul.h), shared by
// the packer, the scalar reference and the per-ISA kernels.
//
// A panel is 16 weight rows (rows past the end are zero). Codes are stored
// so that one 64-byte vector holds 4 consecutive codes of each of the 16
// rows: byte 4 r + i of a vector is row r's code for element 4 v + i of its
// 32-element group, v = the vector's index. Where codes are 4 bits, one
// 64-byte "chunk" k < 4 carries two such vectors: low nibbles v = 2k
// (elements 8k .. 8k+3), high nibbles v = 2k + 1 (elements 8k+4 .. 8k+7).
//
// Q4_0 and Q8_0 panels: ceil(nb / 2) units of two blocks b = 2u, 2u + 1,
//   +0      64  f16 d[r] of block 2u (bytes 0-31), of block 2u + 1 (32-63)
//   +64    kQs  codes of block 2u      +64 + kQs  kQs  codes of block 2u + 1
// with codes: Q4_0 256 bytes of 4-bit chunks, Q8_0 512 bytes, 8 vectors of
// (code ^ 0x80), i.e. code + 128 as u8. An odd nb leaves the last unit's
// second block zero. Scales sit between the codes they scale so that a
// panel is one stream front to back, as the hardware prefetchers follow
// best: with the scales in a second stream at the panel's end, 1-thread
// decode read 15-19 GB/s from DRAM, interleaved 22-26.
// Q4_K tile (one 256-value super-block of 16 rows; a panel is nsb tiles)
//   +0     2048  4-bit chunks, sub-block j (32 values) at 256 j
//   +2048   128  sm[j][r] = scale code | (min code & 3) << 6
//   +2176    64  mh[p][r] = (min code of sub-block 2p) >> 2
//                           | ((min code of sub-block 2p + 1) >> 2) << 4
//   +2240    32  f16 d[r]      +2272  32  f16 dmin[r]          = 2304
// The 6-bit codes stay 6-bit (as many bytes as GGUF's 12 per row): decode
// reads every weight byte once per token, so bytes are time, and the few
// shifts that unpack them per tile are cheaper than 64 more bytes.
// Q5_K tile: as Q4_K with each sub-block's fifth bits after its chunks:
//   +320 j       256  sub-block j's 4-bit chunks
//   +320 j + 256  64  its fifth bits, per chunk k (16 bytes): u64 bit
//                     masks, low-nibble vector then high-nibble vector;
//                     bit 4 r + i = bit 4 of the code in byte 4 r + i
//   +2560 sm, +2688 mh, +2752 d, +2784 dmin                        = 2816
// Q6_K tile: four 832-byte units of two 32-value groups G = 2u, 2u + 1,
//   +0       64  int8 scales in pairs s[G][r][2] = (sub-block 2G, 2G+1),
//                group 2u at bytes 0-31, 2u + 1 at 32-63
//   +64     256  group 2u's low 4 bits as 4-bit chunks
//   +320    128  its high 2 bits: two 64-byte vectors h; byte 4 r + i
//                holds in bits 2f, 2f+1 the high bits of vector
//                v = 4 h + f's code in byte 4 r + i
//   +448    384  group 2u + 1's low bits and high bits, the same way
// then +3328 64 f32 d[r]                                           = 3392
// Every part sits where it is read, so the tile is one stream front to
// back (with the low bits, high bits and scales in three regions, decode
// needed software prefetches and still read ~10% slower).
// Codes are GGUF's: Q4_0 0..15 (value q - 8), Q8_0 -128..127, Q4_K 0..15,
// Q5_K 0..31, Q6_K 0..63 (value q - 32).
//
// Only <cstdint> and internal-linkage helpers, so the per-ISA files may
// include it (cmake/isa_flags.cmake).
#pragma once

#include <cstdint>

namespace nibble::kernels::gguf_packed {

constexpr int kRows = 16;

constexpr int64_t kQ4_0Qs = 256, kQ8_0Qs = 512;  // code bytes per block per panel

// Q4_0 / Q8_0 (kQs code bytes a block): offsets in a panel of block b's
// codes and of its 16 f16 scales, and the bytes of a panel of nb blocks.
static inline int64_t legacy_unit_bytes(int64_t qs) { return 64 + 2 * qs; }
static inline int64_t legacy_codes(int64_t b, int64_t qs) {
  return b / 2 * legacy_unit_bytes(qs) + 64 + b % 2 * qs;
}
static inline int64_t legacy_scales(int64_t b, int64_t qs) {
  return b / 2 * legacy_unit_bytes(qs) + b % 2 * 32;
}
static inline int64_t legacy_panel_bytes(int64_t nb, int64_t qs) {
  return (nb + 1) / 2 * legacy_unit_bytes(qs);
}

constexpr int64_t kQ4K_Sc = 2048, kQ4K_Min = 2176, kQ4K_D = 2240, kQ4K_Dmin = 2272,
                  kQ4K_Tile = 2304;
constexpr int64_t kQ5K_Sc = 2560, kQ5K_Min = 2688, kQ5K_D = 2752,
                  kQ5K_Dmin = 2784, kQ5K_Tile = 2816;
constexpr int64_t kQ6K_D = 3328, kQ6K_Tile = 3392;

// Q6_K group G (< 8): offsets in a tile of its scale pairs, low-bit chunks
// and high-bit vectors.
static inline int64_t q6_scales(int G) { return 832 * (G / 2) + 32 * (G % 2); }
static inline int64_t q6_low(int G) { return 832 * (G / 2) + 64 + 384 * (G % 2); }
static inline int64_t q6_high(int G) { return q6_low(G) + 256; }

static_assert(kQ4K_Tile % 64 == 0 && kQ5K_Tile % 64 == 0 && kQ6K_Tile % 64 == 0);

// Byte of row r's 4-bit code for element e (< 32) of a chunked group, and
// whether it sits in the high nibble.
static inline int nibble_byte(int r, int e) { return 64 * (e / 8) + 4 * r + e % 4; }
static inline bool nibble_high(int e) { return e % 8 >= 4; }

static inline int get_nibble(const uint8_t* group, int r, int e) {
  const uint8_t b = group[nibble_byte(r, e)];
  return nibble_high(e) ? b >> 4 : b & 0xF;
}
// Row r's 32 codes (low 4 bits of each) into a chunked group: each of its
// 4 bytes per chunk is written once, whole.
static inline void put_nibbles(uint8_t* group, int r, const uint8_t* codes) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i)
      group[nibble_byte(r, 8 * k + i)] =
          uint8_t((codes[8 * k + i] & 0xF) | (codes[8 * k + 4 + i] & 0xF) << 4);
}

// Q8_0: byte of row r's code for element e (< 32).
static inline int byte_q8(int r, int e) { return 64 * (e / 4) + 4 * r + e % 4; }

// Q4_K / Q5_K sub-block j (< 8) of row r: its scale and min codes, given
// the tile's sm and mh bytes.
static inline int k4_scale(const uint8_t* sm, int j, int r) { return sm[16 * j + r] & 63; }
static inline int k4_min(const uint8_t* sm, const uint8_t* mh, int j, int r) {
  return (sm[16 * j + r] >> 6) | (((mh[16 * (j / 2) + r] >> (4 * (j % 2))) & 0xF) << 2);
}

// Q4_K / Q5_K sub-block j (< 8): offset in a tile of its 4-bit chunks, and
// (Q5_K) of its 64 fifth-bit mask bytes.
static inline int64_t k4_chunks(int j, bool fifth_bit) { return (fifth_bit ? 320 : 256) * j; }
static inline int64_t q5_masks(int j) { return k4_chunks(j, true) + 256; }

// Q5_K fifth bit of row r's element e (< 32) in a sub-block's 64 mask bytes.
static inline int q5_mask_bit(int r, int e) {  // bit index within the 64 bytes
  return 8 * (16 * (e / 8) + 8 * (nibble_high(e) ? 1 : 0)) + 4 * r + e % 4;
}

// Q6_K high 2 bits of row r's element e (< 32) in a group's 128 bytes:
// byte index and shift.
static inline int q6_high_byte(int r, int e) { return 64 * ((e / 4) / 4) + 4 * r + e % 4; }
static inline int q6_high_shift(int e) { return 2 * ((e / 4) % 4); }

}  // namespace nibble::kernels::gguf_packed
