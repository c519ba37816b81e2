#include "quant/bnb_codes.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nibble::quant {
namespace {

// specs/bitsandbytes.md §3, the literal float32 table the kernels hard-code.
constexpr std::array<float, 16> kNf4 = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// Midpoints between consecutive NF4 values (bnb's decision tree pivots).
constexpr std::array<float, 15> kNf4Midpoints = {
    -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
    0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};

// bnb's E2M1 variant: raw magnitudes of codes 0..7 (bit 3 is the sign), over 12.
constexpr std::array<float, 8> kFp4Raw = {0.0f, 0.0625f, 8.0f, 12.0f, 4.0f, 6.0f, 2.0f, 3.0f};
// FP4 magnitude codes in increasing order of value, and the midpoints between them.
constexpr std::array<uint8_t, 8> kFp4ByValue = {0, 1, 6, 7, 4, 5, 2, 3};
constexpr std::array<float, 7> kFp4Midpoints = {0.00260417f, 0.0859375f,  0.20833333f, 0.29166667f,
                                                0.4166667f,  0.583333f,   0.8333333f};

std::array<float, 16> make_fp4() {
  std::array<float, 16> t{};
  for (int i = 0; i < 8; ++i) {
    t[i] = kFp4Raw[i] / 12.0f;
    t[i + 8] = -t[i];
  }
  return t;
}

std::array<float, 256> make_dynamic_map() {
  std::vector<float> v;
  for (int i = 0; i < 7; ++i) {
    const int points = (1 << i) + 1;
    const float scale = float(std::pow(10.0, i - 6));
    for (int k = 0; k + 1 < points; ++k) {
      const float a = 0.1f + 0.9f * float(k) / float(points - 1);
      const float b = 0.1f + 0.9f * float(k + 1) / float(points - 1);
      const float mean = (a + b) / 2.0f;
      v.push_back(scale * mean);
      v.push_back(-scale * mean);
    }
  }
  v.push_back(0.0f);
  v.push_back(1.0f);
  std::sort(v.begin(), v.end());
  std::array<float, 256> out{};
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

// Index of the entry of a sorted table nearest to u (the lower one on a tie).
int nearest_sorted(const float* table, int size, float u) {
  const float* hi = std::lower_bound(table, table + size, u);
  if (hi == table) return 0;
  if (hi == table + size) return size - 1;
  const float* lo = hi - 1;
  return (u - *lo <= *hi - u) ? int(lo - table) : int(hi - table);
}

}  // namespace

const std::array<float, 16>& four_bit_table(FourBitType type) {
  static const std::array<float, 16> fp4 = make_fp4();
  return type == FourBitType::nf4 ? kNf4 : fp4;
}

std::string four_bit_name(FourBitType type) { return type == FourBitType::nf4 ? "nf4" : "fp4"; }

FourBitType four_bit_type_from_name(const std::string& name) {
  if (name == "nf4") return FourBitType::nf4;
  if (name == "fp4") return FourBitType::fp4;
  fail("4-bit quant type must be nf4 or fp4, got '", name, "'");
}

uint8_t nf4_code(float u) {
  uint8_t code = 0;
  for (float m : kNf4Midpoints) code += u > m;
  return code;
}

uint8_t fp4_code(float u) {
  const float a = std::fabs(u);
  int rank = 0;
  for (float m : kFp4Midpoints) rank += a > m;
  return uint8_t((u < 0 ? 8 : 0) | kFp4ByValue[rank]);
}

const std::array<float, 256>& dynamic_map() {
  static const std::array<float, 256> map = make_dynamic_map();
  return map;
}

std::vector<float> block_absmax(const float* x, int64_t n) {
  std::vector<float> absmax(size_t((n + kFourBitBlock - 1) / kFourBitBlock), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    absmax[size_t(i / kFourBitBlock)] = std::max(absmax[size_t(i / kFourBitBlock)], std::fabs(x[i]));
  return absmax;
}

float absmax_offset(const std::vector<float>& absmax) {
  double sum = 0;
  for (float a : absmax) sum += a;
  return absmax.empty() ? 0.0f : float(sum / double(absmax.size()));
}

NestedAbsmax quantize_absmax(const std::vector<float>& absmax) {
  NestedAbsmax n;
  n.offset = absmax_offset(absmax);
  const auto& map = dynamic_map();
  const int64_t count = int64_t(absmax.size());
  n.codes.resize(absmax.size());
  for (int64_t g0 = 0; g0 < count; g0 += kNestedBlock) {
    const int64_t g1 = std::min(count, g0 + kNestedBlock);
    float m = 0;
    for (int64_t i = g0; i < g1; ++i) m = std::max(m, std::fabs(absmax[i] - n.offset));
    n.absmax.push_back(m);
    for (int64_t i = g0; i < g1; ++i)
      n.codes[i] = uint8_t(nearest_sorted(map.data(), 256, m > 0 ? (absmax[i] - n.offset) / m : 0.0f));
  }
  return n;
}

std::vector<float> dequantize_absmax(const NestedAbsmax& n, const float* map256) {
  std::vector<float> out(n.codes.size());
  for (size_t b = 0; b < out.size(); ++b)
    out[b] = map256[n.codes[b]] * n.absmax[b / kNestedBlock] + n.offset;
  return out;
}

int64_t FourBitWeight::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

double FourBitWeight::bits_per_weight() const {
  const double scale_bits = double_quant
                                ? 8.0 * double(nested.codes.size()) + 32.0 * double(nested.absmax.size()) + 32.0
                                : 32.0 * double(absmax.size());
  return (8.0 * double(packed.size()) + scale_bits) / double(numel());
}

FourBitWeight quantize_4bit(const float* x, const std::vector<int64_t>& shape, FourBitType type,
                            bool double_quant) {
  FourBitWeight w;
  w.type = type;
  w.table = four_bit_table(type);
  w.shape = shape;
  const int64_t n = w.numel();
  const int64_t blocks = (n + kFourBitBlock - 1) / kFourBitBlock;
  w.packed.assign(size_t((n + 1) / 2), 0);
  w.absmax = block_absmax(x, n);
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i0 = b * kFourBitBlock, i1 = std::min(n, i0 + kFourBitBlock);
    const float m = w.absmax[b];
    for (int64_t i = i0; i < i1; ++i) {
      const float u = m > 0 ? std::clamp(x[i] / m, -1.0f, 1.0f) : 0.0f;
      const uint8_t code = type == FourBitType::nf4 ? nf4_code(u) : fp4_code(u);
      w.packed[size_t(i / 2)] |= uint8_t(code << (i % 2 == 0 ? 4 : 0));
    }
  }
  // An odd count pads with a zero value, whose code is not 0 for NF4.
  if (n % 2 == 1) w.packed.back() |= type == FourBitType::nf4 ? nf4_code(0) : fp4_code(0);
  if (double_quant) {
    w.double_quant = true;
    w.nested = quantize_absmax(w.absmax);
    w.absmax = dequantize_absmax(w.nested, dynamic_map().data());
  }
  return w;
}

void dequantize_4bit(const FourBitWeight& w, float* out) {
  const int64_t n = w.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = w.table[w.code(i)] * w.absmax[size_t(i / kFourBitBlock)];
}

Int8Weight quantize_int8(const float* w, int64_t rows, int64_t cols) {
  Int8Weight q;
  q.rows = rows;
  q.cols = cols;
  q.cb.resize(size_t(rows * cols));
  q.scb.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    float m = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(row[c]));
    q.scb[r] = m;
    const float inv = m > 0 ? 127.0f / m : 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      q.cb[r * cols + c] = int8_t(std::clamp(std::nearbyint(row[c] * inv), -127.0f, 127.0f));
  }
  return q;
}

void dequantize_int8(const Int8Weight& w, float* out) {
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      out[r * w.cols + c] = float(w.cb[r * w.cols + c]) * (w.scb[r] / 127.0f);
}

}  // namespace nibble::quant
