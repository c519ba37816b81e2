// bitsandbytes codes against specs/bitsandbytes.md: the code books, the
// spec's worked example, hand-computed vectors, double quantization's
// error bound and the int8 row codes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "quant/bnb_codes.h"

namespace nibble::quant {
namespace {

TEST(BnbCodes, Nf4TableIsTheSpecsSixteenValues) {
  // specs/bitsandbytes.md §3, as printed there.
  const char* spec[16] = {"-1.0", "-0.6961928009986877", "-0.5250730514526367", "-0.39491748809814453",
                          "-0.28444138169288635", "-0.18477343022823334", "-0.09105003625154495", "0.0",
                          "0.07958029955625534", "0.16093020141124725", "0.24611230194568634",
                          "0.33791524171829224", "0.44070982933044434", "0.5626170039176941",
                          "0.7229568362236023", "1.0"};
  const auto& t = four_bit_table(FourBitType::nf4);
  for (int i = 0; i < 16; ++i) {
    const float expected = std::strtof(spec[i], nullptr);
    uint32_t a, b;
    std::memcpy(&a, &t[i], 4);
    std::memcpy(&b, &expected, 4);
    EXPECT_EQ(a, b) << "index " << i;
  }
}

TEST(BnbCodes, Fp4TableIsSignedE2M1OverTwelve) {
  const float raw[8] = {0, 0.0625f, 8, 12, 4, 6, 2, 3};
  const auto& t = four_bit_table(FourBitType::fp4);
  for (int i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(t[i], raw[i] / 12.0f);
    EXPECT_FLOAT_EQ(t[i + 8], -raw[i] / 12.0f);
  }
}

TEST(BnbCodes, Nf4WorkedExampleBytesAndValues) {
  std::vector<float> x(128, 0.0f);
  const float block0[6] = {0.5f, -1.0f, 0.1f, 0.0f, 0.3f, -0.6f};
  std::copy(block0, block0 + 6, x.begin());
  x[64] = 2.0f;
  x[65] = -0.1f;
  const FourBitWeight w = quantize_4bit(x.data(), {2, 64}, FourBitType::nf4, false);
  ASSERT_EQ(w.packed.size(), 64u);
  EXPECT_EQ(w.packed[0], 0xc0);
  EXPECT_EQ(w.packed[1], 0x87);
  EXPECT_EQ(w.packed[2], 0xb2);
  for (int i = 3; i < 32; ++i) EXPECT_EQ(w.packed[i], 0x77) << i;
  EXPECT_EQ(w.packed[32], 0xf6);
  for (int i = 33; i < 64; ++i) EXPECT_EQ(w.packed[i], 0x77) << i;
  EXPECT_EQ(w.absmax, (std::vector<float>{1.0f, 2.0f}));
  std::vector<float> y(128);
  dequantize_4bit(w, y.data());
  const float expected[6] = {0.44070982933044434f, -1.0f, 0.07958029955625534f, 0.0f,
                             0.33791524171829224f, -0.5250730514526367f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], expected[i]) << i;
  EXPECT_FLOAT_EQ(y[64], 2.0f);
  EXPECT_FLOAT_EQ(y[65], 2.0f * -0.09105003625154495f);
}

TEST(BnbCodes, Fp4HandComputedVector) {
  // absmax 2: u = 1, -0.5, 0.25, 0.1, 0, -0.003 -> codes 3, 8|5, 7, 6 (0.1 is
  // nearer 1/6 than 1/192), 0, 8|1 (|u| is past the 0.0026 midpoint).
  const float x[6] = {2.0f, -1.0f, 0.5f, 0.2f, 0.0f, -0.006f};
  const FourBitWeight w = quantize_4bit(x, {1, 6}, FourBitType::fp4, false);
  EXPECT_EQ(w.packed, (std::vector<uint8_t>{0x3d, 0x76, 0x09}));
  std::vector<float> y(6);
  dequantize_4bit(w, y.data());
  const float expected[6] = {2.0f, -1.0f, 0.5f, 2.0f / 6.0f, 0.0f, -2.0f * 0.0625f / 12.0f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], expected[i]) << i;
}

TEST(BnbCodes, CodesAreTheNearestEntryAndMidpointsGoDown) {
  for (FourBitType type : {FourBitType::nf4, FourBitType::fp4}) {
    const auto& t = four_bit_table(type);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int i = 0; i < 20000; ++i) {
      const float v = u(rng);
      int best = 0;
      for (int k = 1; k < 16; ++k)
        if (std::fabs(v - t[k]) < std::fabs(v - t[best])) best = k;
      const uint8_t code = type == FourBitType::nf4 ? nf4_code(v) : fp4_code(v);
      EXPECT_FLOAT_EQ(t[code], t[best]) << v;
    }
  }
  // The spec's first NF4 midpoint lies between codes 0 and 1: it goes to 0.
  EXPECT_EQ(nf4_code(-0.8480964004993439f), 0);
  EXPECT_EQ(nf4_code(std::nextafter(-0.8480964004993439f, 0.0f)), 1);
}

TEST(BnbCodes, OddCountAndZeroBlock) {
  const float x[3] = {0.0f, 0.0f, 0.0f};
  const FourBitWeight w = quantize_4bit(x, {1, 3}, FourBitType::nf4, false);
  EXPECT_EQ(w.packed, (std::vector<uint8_t>{0x77, 0x77}));  // the pad is a zero value too
  EXPECT_EQ(w.absmax, std::vector<float>{0.0f});
  std::vector<float> y(3, 1.0f);
  dequantize_4bit(w, y.data());
  EXPECT_EQ(y, std::vector<float>(3, 0.0f));
}

TEST(BnbCodes, DynamicMapShape) {
  const auto& m = dynamic_map();
  EXPECT_TRUE(std::is_sorted(m.begin(), m.end()));
  EXPECT_EQ(m[127], 0.0f);
  EXPECT_EQ(m[255], 1.0f);
  EXPECT_NEAR(m[0], -0.99296875f, 1e-6);
  EXPECT_NEAR(m[126], -5.5e-7f, 1e-8);  // the smallest decade: 10^-6 * 0.55
}

TEST(BnbCodes, DoubleQuantRoundTripWithinHalfAMapStep) {
  // The absmax vector of a N(0, 0.02) weight, 1000 blocks (4 nested groups).
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(64 * 1000);
  for (float& v : w) v = normal(rng);
  const FourBitWeight plain = quantize_4bit(w.data(), {1000, 64}, FourBitType::nf4, false);
  const FourBitWeight dq = quantize_4bit(w.data(), {1000, 64}, FourBitType::nf4, true);
  ASSERT_TRUE(dq.double_quant);
  ASSERT_EQ(dq.nested.absmax.size(), 4u);
  double mean = 0;
  for (float a : plain.absmax) mean += a;
  EXPECT_NEAR(dq.nested.offset, mean / 1000.0, 1e-6);
  EXPECT_EQ(plain.packed, dq.packed);  // codes come from the original absmax
  const auto& m = dynamic_map();
  for (size_t b = 0; b < 1000; ++b) {
    // Half the gap between the map entries around the normalized value.
    const float scale = dq.nested.absmax[b / 256];
    const float u = (plain.absmax[b] - dq.nested.offset) / scale;
    const auto hi = std::lower_bound(m.begin(), m.end(), u);
    const float gap = (hi == m.begin() || hi == m.end()) ? 0.0f : *hi - *(hi - 1);
    EXPECT_LE(std::fabs(dq.absmax[b] - plain.absmax[b]), scale * gap / 2 * 1.0001f + 1e-9f) << b;
  }
  // Bits per weight: 4 + 32/64 = 4.5 plainly, 4 + 8/64 + 32/(64*256) (+ the offset) with DQ.
  EXPECT_DOUBLE_EQ(plain.bits_per_weight(), 4.5);
  EXPECT_NEAR(dq.bits_per_weight(), 4.0 + 8.0 / 64 + 4 * 32.0 / 64000 + 32.0 / 64000, 1e-12);
}

TEST(BnbCodes, Int8RowCodesRoundHalfToEven) {
  // spec §8.5: [1.0, -0.5, 0.25] -> SCB 1, CB [127, -64, 32] (-63.5 -> -64, 31.75 -> 32).
  const float w[6] = {1.0f, -0.5f, 0.25f, 0.0f, 0.0f, 0.0f};
  const Int8Weight q = quantize_int8(w, 2, 3);
  EXPECT_EQ(q.scb, (std::vector<float>{1.0f, 0.0f}));
  EXPECT_EQ(q.cb, (std::vector<int8_t>{127, -64, 32, 0, 0, 0}));
  std::vector<float> y(6);
  dequantize_int8(q, y.data());
  EXPECT_FLOAT_EQ(y[1], -64.0f / 127.0f);
  EXPECT_EQ(y[3], 0.0f);
}

}  // namespace
}  // namespace nibble::quant
