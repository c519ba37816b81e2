// GGUF block codecs against the spec (shared/specs/gguf.md): the worked
// examples' bytes (§7), one hand-built block per type whose values were
// worked out by hand from §5's formulas (bytes are placed by their spec
// offsets, not through our structs), and quantize -> dequantize error on
// Gaussian rows for every type, with and without importance weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "formats/gguf_blocks.h"

namespace nibble::formats {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes quantize(GgmlType type, const std::vector<float>& x, const float* importance = nullptr) {
  Bytes out(size_t(gguf_row_bytes(type, int64_t(x.size()))));
  quantize_row(type, x.data(), out.data(), int64_t(x.size()), importance);
  return out;
}

std::vector<float> dequantize(GgmlType type, const Bytes& blocks, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, blocks.data(), out.data(), n);
  return out;
}

void put16(Bytes& b, size_t offset, uint16_t v) {
  b[offset] = uint8_t(v & 0xFF);
  b[offset + 1] = uint8_t(v >> 8);
}

// ---------------------------------------------------------------- §0, §7

TEST(GgufBlocks, NearestIntRoundsHalfToEven) {
  EXPECT_EQ(gguf_nearest_int(2.5f), 2);
  EXPECT_EQ(gguf_nearest_int(3.5f), 4);
  EXPECT_EQ(gguf_nearest_int(-2.5f), -2);
  EXPECT_EQ(gguf_nearest_int(-3.5f), -4);
  EXPECT_EQ(gguf_nearest_int(2.49f), 2);
  EXPECT_EQ(gguf_nearest_int(-127.2f), -127);
}

std::vector<float> input_a() {  // x_j = (j - 16) * 0.125
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[size_t(j)] = float(j - 16) * 0.125f;
  return x;
}

std::vector<float> input_b() {  // x_0 = 1, x_1 = -0.3, x_17 = 0.6
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;
  x[1] = -0.3f;
  x[17] = 0.6f;
  return x;
}

TEST(GgufBlocks, WorkedExampleQ8_0) {
  const Bytes a = quantize(GgmlType::Q8_0, input_a());
  const Bytes expected_a = {0x08, 0x24, 0x81, 0x89, 0x91, 0x99, 0xa1, 0xa9, 0xb1, 0xb9, 0xc0, 0xc8,
                            0xd0, 0xd8, 0xe0, 0xe8, 0xf0, 0xf8, 0x00, 0x08, 0x10, 0x18, 0x20, 0x28,
                            0x30, 0x38, 0x40, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77};
  EXPECT_EQ(a, expected_a);
  EXPECT_NEAR(dequantize(GgmlType::Q8_0, a, 32)[0], -1.99988f, 1e-5f);

  const Bytes b = quantize(GgmlType::Q8_0, input_b());
  Bytes expected_b(34, 0);
  expected_b[0] = 0x08;
  expected_b[1] = 0x20;
  expected_b[2] = 0x7f;
  expected_b[3] = 0xda;
  expected_b[19] = 0x4c;
  EXPECT_EQ(b, expected_b);
}

TEST(GgufBlocks, WorkedExampleQ4_0) {
  const Bytes a = quantize(GgmlType::Q4_0, input_a());
  const Bytes expected_a = {0x00, 0x34, 0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3, 0xc4,
                            0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8};
  EXPECT_EQ(a, expected_a);
  const std::vector<float> ya = dequantize(GgmlType::Q4_0, a, 32);
  for (int j = 0; j < 32; ++j) {
    const int q = std::min(15, (j + 1) / 2);  // floor((j + 1) / 2) capped at 15
    EXPECT_EQ(ya[size_t(j)], float(q - 8) * 0.25f) << j;
  }
  EXPECT_EQ(ya[31], 1.75f);

  const Bytes b = quantize(GgmlType::Q4_0, input_b());
  const Bytes expected_b = {0x00, 0xb0, 0x80, 0x3a, 0x88, 0x88, 0x88, 0x88, 0x88,
                            0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
  EXPECT_EQ(b, expected_b);
  const std::vector<float> yb = dequantize(GgmlType::Q4_0, b, 32);
  EXPECT_EQ(yb[0], 1.0f);
  EXPECT_EQ(yb[1], -0.25f);
  EXPECT_EQ(yb[17], 0.625f);
  EXPECT_EQ(yb[5], 0.0f);
}

// §5's Q4_K packing vector: (sc, m) pairs -> 12 scale bytes, read back both
// through the unpacking helper and through dequantization of q = 1 and q = 0.
TEST(GgufBlocks, Q4KScalePackingVector) {
  const uint8_t packed[12] = {0xca, 0xd4, 0xde, 0x28, 0x81, 0x82, 0x83, 0x84, 0x12, 0x2c, 0x3f, 0x45};
  const int sc[8] = {10, 20, 30, 40, 50, 60, 63, 5}, mn[8] = {1, 2, 3, 4, 33, 34, 35, 36};
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    kernels::kquant_scale_min(packed, j, &s, &m);
    EXPECT_EQ(s, sc[j]) << j;
    EXPECT_EQ(m, mn[j]) << j;
  }
  Bytes block(144, 0);
  put16(block, 0, 0x3C00);  // d = 1
  put16(block, 2, 0x3C00);  // dmin = 1
  std::memcpy(block.data() + 4, packed, 12);
  std::memset(block.data() + 16, 0x11, 128);  // q = 1 everywhere
  const std::vector<float> y = dequantize(GgmlType::Q4_K, block, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[size_t(e)], float(sc[e / 32] - mn[e / 32])) << e;
}

// §7's Q3_K scale packing: sixteen signed scales -> 12 bytes.
TEST(GgufBlocks, Q3KScalePackingVector) {
  const uint8_t packed[12] = {0x30, 0xdf, 0xa0, 0x61, 0x4f, 0xcf, 0xe0, 0x27, 0xec, 0x19, 0xe6, 0x1a};
  const int scales[16] = {-32, -1, 0, 1, 31, 15, -16, 7, 3, -3, 10, -10, 20, -20, 30, -30};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(kernels::q3k_scale(packed, j), scales[j]) << j;
  Bytes block(110, 0);
  std::memset(block.data(), 0xFF, 32);       // hmask: high bit set -> v = low2
  std::memset(block.data() + 32, 0x55, 64);  // low2 = 1 in every plane
  std::memcpy(block.data() + 96, packed, 12);
  put16(block, 108, 0x3C00);  // d = 1
  const std::vector<float> y = dequantize(GgmlType::Q3_K, block, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[size_t(e)], float(scales[e / 16])) << e;
}

// ---------------------------------------------------------------- hand-built blocks

TEST(GgufBlocks, HandBuiltQ4_0) {
  Bytes b(18, 0x88);
  put16(b, 0, 0x3800);  // d = 0.5
  b[2] = 0x3C;          // elem 0: 12, elem 16: 3
  b[17] = 0xF0;         // elem 15: 0, elem 31: 15
  const std::vector<float> y = dequantize(GgmlType::Q4_0, b, 32);
  EXPECT_EQ(y[0], 2.0f);    // (12 - 8) * 0.5
  EXPECT_EQ(y[16], -2.5f);  // (3 - 8) * 0.5
  EXPECT_EQ(y[15], -4.0f);  // (0 - 8) * 0.5
  EXPECT_EQ(y[31], 3.5f);   // (15 - 8) * 0.5
  EXPECT_EQ(y[7], 0.0f);
}

TEST(GgufBlocks, HandBuiltQ4_1) {
  Bytes b(20, 0);
  put16(b, 0, 0x3800);  // d = 0.5
  put16(b, 2, 0xBC00);  // m = -1
  b[4] = 0x3C;
  const std::vector<float> y = dequantize(GgmlType::Q4_1, b, 32);
  EXPECT_EQ(y[0], 5.0f);   // 12 * 0.5 - 1
  EXPECT_EQ(y[16], 0.5f);  // 3 * 0.5 - 1
  EXPECT_EQ(y[9], -1.0f);  // 0 * 0.5 - 1
}

TEST(GgufBlocks, HandBuiltQ5_0) {
  Bytes b(22, 0);
  put16(b, 0, 0x3400);  // d = 0.25
  b[2] = 0x01;          // qh bit 0: elem 0 has bit 4
  b[4] = 0x01;          // qh bit 16: elem 16 has bit 4
  b[6] = 0x21;          // elem 0 low 1, elem 16 low 2
  const std::vector<float> y = dequantize(GgmlType::Q5_0, b, 32);
  EXPECT_EQ(y[0], 0.25f);   // (17 - 16) * 0.25
  EXPECT_EQ(y[16], 0.5f);   // (18 - 16) * 0.25
  EXPECT_EQ(y[1], -4.0f);   // (0 - 16) * 0.25
  EXPECT_EQ(y[17], -4.0f);
}

TEST(GgufBlocks, HandBuiltQ5_1) {
  Bytes b(24, 0);
  put16(b, 0, 0x3400);  // d = 0.25
  put16(b, 2, 0x3C00);  // m = 1
  b[7] = 0x80;          // qh bit 31: elem 31 has bit 4
  b[8 + 15] = 0xF0;     // elem 15 low 0, elem 31 low 15
  const std::vector<float> y = dequantize(GgmlType::Q5_1, b, 32);
  EXPECT_EQ(y[15], 1.0f);   // 0 * 0.25 + 1
  EXPECT_EQ(y[31], 8.75f);  // 31 * 0.25 + 1
  EXPECT_EQ(y[30], 1.0f);
}

TEST(GgufBlocks, HandBuiltQ8_0) {
  Bytes b(34, 0);
  put16(b, 0, 0x3000);  // d = 0.125
  b[2] = 0x80;          // -128
  b[33] = 0x7F;         // 127
  b[3] = 0xFD;          // -3
  const std::vector<float> y = dequantize(GgmlType::Q8_0, b, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[31], 15.875f);
  EXPECT_EQ(y[1], -0.375f);
}

TEST(GgufBlocks, HandBuiltIq4Nl) {
  Bytes b(18, 0x88);
  put16(b, 0, 0x4000);  // d = 2
  b[2] = 0xF0;          // elem 0 -> K[0] = -127, elem 16 -> K[15] = 113
  b[3] = 0x98;          // elem 1 -> K[8] = 1, elem 17 -> K[9] = 13
  const std::vector<float> y = dequantize(GgmlType::IQ4_NL, b, 32);
  EXPECT_EQ(y[0], -254.0f);
  EXPECT_EQ(y[16], 226.0f);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_EQ(y[17], 26.0f);
  EXPECT_EQ(y[5], 2.0f);  // code 8
}

TEST(GgufBlocks, HandBuiltQ8_K) {
  Bytes b(292, 0);
  const float d = 0.5f;
  std::memcpy(b.data(), &d, 4);
  b[4] = 0xFD;        // qs[0] = -3
  b[4 + 255] = 100;   // qs[255] = 100
  const std::vector<float> y = dequantize(GgmlType::Q8_K, b, 256);
  EXPECT_EQ(y[0], -1.5f);
  EXPECT_EQ(y[255], 50.0f);
  EXPECT_EQ(y[100], 0.0f);
}

TEST(GgufBlocks, HandBuiltQ2_K) {
  Bytes b(84, 0);
  b[0] = 0x21;   // sub-block 0: sc 1, m 2
  b[2] = 0x12;   // sub-block 2: sc 2, m 1
  b[4] = 0x03;   // sub-block 4: sc 3, m 0
  b[6] = 0x44;   // sub-block 6: sc 4, m 4
  b[9] = 0x25;   // sub-block 9: sc 5, m 2
  b[15] = 0xF3;  // sub-block 15: sc 3, m 15
  b[16 + 0] = 0xE4;   // planes 0..3 of byte 0 = 0, 1, 2, 3: elems 0, 32, 64, 96
  b[16 + 63] = 0x03;  // byte 32 + 31, plane 0 = 3: elem 128 + 31
  put16(b, 80, 0x3C00);  // d = 1
  put16(b, 82, 0x3800);  // dmin = 0.5
  const std::vector<float> y = dequantize(GgmlType::Q2_K, b, 256);
  EXPECT_EQ(y[0], -1.0f);    // 1*1*0 - 0.5*2
  EXPECT_EQ(y[32], 1.5f);    // 1*2*1 - 0.5*1
  EXPECT_EQ(y[64], 6.0f);    // 1*3*2 - 0
  EXPECT_EQ(y[96], 10.0f);   // 1*4*3 - 0.5*4
  EXPECT_EQ(y[159], 14.0f);  // 1*5*3 - 0.5*2
  EXPECT_EQ(y[255], -7.5f);  // 1*3*0 - 0.5*15
}

TEST(GgufBlocks, HandBuiltQ3_K) {
  const uint8_t packed[12] = {0x30, 0xdf, 0xa0, 0x61, 0x4f, 0xcf, 0xe0, 0x27, 0xec, 0x19, 0xe6, 0x1a};
  // scales by sub-block: -32 -1 0 1 31 15 -16 7 3 -3 10 -10 20 -20 30 -30
  Bytes b(110, 0);
  b[16] = 0x06;        // hmask[16]: bits 1, 2 -> elems 48, 80 have the high bit
  b[0] = 0x50;         // hmask[0]: bits 4, 6 -> elems 128, 192
  b[32 + 16] = 0xE4;   // qs[16]: low2 of elems 16, 48, 80, 112 = 0, 1, 2, 3
  b[32 + 32] = 0x1B;   // qs[32]: low2 of elems 128, 160, 192, 224 = 3, 2, 1, 0
  std::memcpy(b.data() + 96, packed, 12);
  put16(b, 108, 0x3800);  // d = 0.5
  const std::vector<float> y = dequantize(GgmlType::Q3_K, b, 256);
  EXPECT_EQ(y[16], 2.0f);     // v = 0 - 4, scale -1: 0.5 * -1 * -4
  EXPECT_EQ(y[48], 0.5f);     // v = 1, scale 1
  EXPECT_EQ(y[80], 15.0f);    // v = 2, scale 15
  EXPECT_EQ(y[112], -3.5f);   // v = 3 - 4, scale 7
  EXPECT_EQ(y[128], 4.5f);    // v = 3, scale 3
  EXPECT_EQ(y[160], -10.0f);  // v = 2 - 4, scale 10
  EXPECT_EQ(y[192], 10.0f);   // v = 1, scale 20
  EXPECT_EQ(y[224], -60.0f);  // v = 0 - 4, scale 30
  EXPECT_EQ(y[0], 64.0f);     // v = -4, scale -32
}

const uint8_t kQ4KScales[12] = {0xca, 0xd4, 0xde, 0x28, 0x81, 0x82, 0x83, 0x84, 0x12, 0x2c, 0x3f, 0x45};
// (sc, m) = (10,1) (20,2) (30,3) (40,4) (50,33) (60,34) (63,35) (5,36)

TEST(GgufBlocks, HandBuiltQ4_K) {
  Bytes b(144, 0);
  put16(b, 0, 0x3C00);  // d = 1
  put16(b, 2, 0x3800);  // dmin = 0.5
  std::memcpy(b.data() + 4, kQ4KScales, 12);
  b[16 + 0] = 0x72;        // elem 0: 2 (sub 0), elem 32: 7 (sub 1)
  b[16 + 64] = 0x31;       // elem 128: 1 (sub 4), elem 160: 3 (sub 5)
  b[16 + 96 + 31] = 0xF0;  // elem 223: 0 (sub 6), elem 255: 15 (sub 7)
  const std::vector<float> y = dequantize(GgmlType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 19.5f);     // 10*2 - 0.5*1
  EXPECT_EQ(y[32], 139.0f);   // 20*7 - 0.5*2
  EXPECT_EQ(y[128], 33.5f);   // 50*1 - 0.5*33
  EXPECT_EQ(y[160], 163.0f);  // 60*3 - 0.5*34
  EXPECT_EQ(y[223], -17.5f);  // 63*0 - 0.5*35
  EXPECT_EQ(y[255], 57.0f);   // 5*15 - 0.5*36
}

TEST(GgufBlocks, HandBuiltQ5_K) {
  Bytes b(176, 0);
  put16(b, 0, 0x3C00);  // d = 1
  put16(b, 2, 0x3800);  // dmin = 0.5
  std::memcpy(b.data() + 4, kQ4KScales, 12);
  b[16 + 0] = 0x03;        // qh[0] bits 0, 1: elems 0 and 32 get +16
  b[16 + 31] = 0x80;       // qh[31] bit 7: elem 224 + 31 = 255 gets +16
  b[48 + 0] = 0x72;        // elem 0 low 2, elem 32 low 7
  b[48 + 96 + 31] = 0xF0;  // elem 223 low 0, elem 255 low 15
  const std::vector<float> y = dequantize(GgmlType::Q5_K, b, 256);
  EXPECT_EQ(y[0], 179.5f);    // 10*18 - 0.5*1
  EXPECT_EQ(y[32], 459.0f);   // 20*23 - 0.5*2
  EXPECT_EQ(y[223], -17.5f);  // 63*0 - 0.5*35
  EXPECT_EQ(y[255], 137.0f);  // 5*31 - 0.5*36
  EXPECT_EQ(y[1], -0.5f);     // 10*0 - 0.5*1
}

TEST(GgufBlocks, HandBuiltQ6_K) {
  Bytes b(210, 0);
  b[0] = 0x5A;          // ql[0]: elem 0 low 10, elem 64 low 5
  b[32] = 0x0F;         // ql[32]: elem 32 low 15, elem 96 low 0
  b[127] = 0x70;        // ql[127]: elem 255 low 7 (high nibble of ql[64 + 32 + 31])
  b[128 + 0] = 0xE4;    // qh[0]: high bits of elems 0, 32, 64, 96 = 0, 1, 2, 3
  b[128 + 63] = 0x40;   // qh[63] bits 6-7: elem 255 high = 1
  b[192 + 0] = 2;       // scale of elems 0..15
  b[192 + 2] = 0xFF;    // scale -1, elems 32..47
  b[192 + 4] = 1;       // elems 64..79
  b[192 + 6] = 4;       // elems 96..111
  b[192 + 15] = 0xFD;   // scale -3, elems 240..255
  put16(b, 208, 0x3800);  // d = 0.5
  const std::vector<float> y = dequantize(GgmlType::Q6_K, b, 256);
  EXPECT_EQ(y[0], -22.0f);   // (10 - 32) * 0.5 * 2
  EXPECT_EQ(y[32], 0.5f);    // (31 - 32) * 0.5 * -1
  EXPECT_EQ(y[64], 2.5f);    // (37 - 32) * 0.5 * 1
  EXPECT_EQ(y[96], 32.0f);   // (48 - 32) * 0.5 * 4
  EXPECT_EQ(y[255], 13.5f);  // (23 - 32) * 0.5 * -3
  EXPECT_EQ(y[1], -32.0f);   // (0 - 32) * 0.5 * 2
}

// ---------------------------------------------------------------- round trips

std::vector<float> gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

// sqrt(sum w (x - y)^2 / sum w x^2) over rows of n; w = 1 without importance.
double relative_rmse(GgmlType type, const std::vector<float>& x, int64_t n,
                     const float* quant_importance, const float* error_weights) {
  double err = 0, ref = 0;
  for (size_t r0 = 0; r0 < x.size(); r0 += size_t(n)) {
    const std::vector<float> row(x.begin() + long(r0), x.begin() + long(r0) + n);
    const std::vector<float> y = dequantize(type, quantize(type, row, quant_importance), n);
    for (int64_t i = 0; i < n; ++i) {
      const double w = error_weights ? error_weights[i] : 1.0;
      const double d = double(row[size_t(i)]) - double(y[size_t(i)]);
      err += w * d * d;
      ref += w * double(row[size_t(i)]) * double(row[size_t(i)]);
    }
  }
  return std::sqrt(err / ref);
}

struct ErrorBound {
  GgmlType type;
  double max_relative_rmse;  // sqrt(sum (x - y)^2 / sum x^2) on N(0, 1) rows
};

// Measured on 16 rows x 4096 N(0, 1) values (this code = llama.cpp's bytes):
// F16 0.021%, BF16 0.17%, Q8_0 0.53%, Q6_K 1.77%, Q5_K 3.61%, Q5_1 3.76%,
// Q5_0 4.26%, Q4_K 7.12%, IQ4_NL 7.62%, Q4_1 7.81%, Q4_0 8.58%, Q3_K 15.0%,
// Q2_K 29.7%. The bounds allow about 15% on top.
const ErrorBound kBounds[] = {
    {GgmlType::F16, 0.00025}, {GgmlType::BF16, 0.0020}, {GgmlType::Q8_0, 0.0062},
    {GgmlType::Q6_K, 0.020},  {GgmlType::Q5_K, 0.041},  {GgmlType::Q5_1, 0.043},
    {GgmlType::Q5_0, 0.049},  {GgmlType::Q4_K, 0.082},  {GgmlType::IQ4_NL, 0.087},
    {GgmlType::Q4_1, 0.090},  {GgmlType::Q4_0, 0.098},  {GgmlType::Q3_K, 0.173},
    {GgmlType::Q2_K, 0.34},
};

TEST(GgufBlocks, RoundTripErrorWithinTypeBounds) {
  const int64_t n = 4096;
  const std::vector<float> x = gaussian(16 * n, 3);
  for (const ErrorBound& bound : kBounds) {
    const double rel = relative_rmse(bound.type, x, n, nullptr, nullptr);
    EXPECT_LT(rel, bound.max_relative_rmse) << io::ggml_type_name(bound.type);
    // Quantizing must do some work: no type is lossless on Gaussian data.
    EXPECT_GT(rel, 0.0) << io::ggml_type_name(bound.type);
  }
}

TEST(GgufBlocks, Q8KRoundTrip) {
  const std::vector<float> x = gaussian(4096, 4);
  EXPECT_LT(relative_rmse(GgmlType::Q8_K, x, 4096, nullptr, nullptr), 0.008);  // measured 0.71%
}

// An importance vector (an imatrix: mean x^2 per input column) steers the
// error to the columns that matter: the importance-weighted error must drop.
// Measured (weighted relative RMSE, plain -> with importance): Q2_K 30.4% ->
// 15.2%, Q3_K 15.5 -> 10.5, Q4_K 7.09 -> 4.41, Q5_K 3.81 -> 2.38, Q6_K 1.76 ->
// 1.20, Q4_0 8.55 -> 6.11, Q4_1 7.53 -> 4.28, Q5_0 4.29 -> 3.04, Q5_1 3.97 ->
// 2.09, IQ4_NL 7.66 -> 5.14: at least 29% lower for every type.
TEST(GgufBlocks, ImportanceReducesWeightedError) {
  const int64_t n = 4096;
  const std::vector<float> x = gaussian(16 * n, 8);
  std::mt19937 rng(9);
  std::lognormal_distribution<float> spread(0.0f, 2.0f);  // a few columns dominate, as in LLMs
  std::vector<float> importance(static_cast<size_t>(n));
  for (float& v : importance) v = spread(rng);
  const GgmlType types[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                            GgmlType::Q6_K, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                            GgmlType::Q5_1, GgmlType::IQ4_NL};
  for (GgmlType type : types) {
    const double plain = relative_rmse(type, x, n, nullptr, importance.data());
    const double steered = relative_rmse(type, x, n, importance.data(), importance.data());
    EXPECT_LT(steered, 0.8 * plain) << io::ggml_type_name(type);
  }
}

// ---------------------------------------------------------------- edges

TEST(GgufBlocks, ZeroRowsStayZero) {
  const std::vector<float> zeros(512, 0.0f);
  for (const ErrorBound& bound : kBounds) {
    const std::vector<float> y = dequantize(bound.type, quantize(bound.type, zeros), 512);
    for (float v : y) ASSERT_EQ(v, 0.0f) << io::ggml_type_name(bound.type);
  }
}

TEST(GgufBlocks, RejectsBadInput) {
  std::vector<float> x(256, 1.0f);
  Bytes out(1024);
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, x.data(), out.data(), 100), Error);  // not whole blocks
  EXPECT_THROW(quantize_row(GgmlType::IQ2_XS, x.data(), out.data(), 256), Error);  // no codec
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, out.data(), x.data(), 33), Error);
  x[7] = std::nanf("");
  EXPECT_THROW(quantize_row(GgmlType::Q8_0, x.data(), out.data(), 256), Error);
  x[7] = 1.0f;
  std::vector<float> importance(256, 1.0f);
  importance[3] = INFINITY;
  EXPECT_THROW(quantize_row(GgmlType::Q4_K, x.data(), out.data(), 256, importance.data()), Error);
  EXPECT_EQ(gguf_row_bytes(GgmlType::Q6_K, 512), 420u);
  EXPECT_TRUE(gguf_codec_supports(GgmlType::IQ4_NL));
  EXPECT_FALSE(gguf_codec_supports(GgmlType::IQ4_XS));
}

}  // namespace
}  // namespace nibble::formats
