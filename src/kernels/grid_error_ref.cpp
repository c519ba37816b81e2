// Scalar reference of grid_error (the tests' oracle): the builds' operations
// one element at a time, std::fma where they fuse.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/grid_error.h"
#include "kernels/grid_error_poly.h"

namespace nibble::kernels {

namespace {

using namespace grid_error_poly;

// acc + |d|^norm for norm != 2 (acc unchanged when the term counts as 0).
float add_power_of_abs(float acc, float d, float norm) {
  const float x = std::fabs(d);
  if (!(x >= kMinTerm)) return acc;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int e = int(bits >> 23) - 127;
  const uint32_t mantissa = (bits & 0x7fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &mantissa, sizeof m);
  if (m > kSqrt2) {
    m = m * 0.5f;
    e += 1;
  }
  const float t = (m - 1.0f) / (m + 1.0f);
  const float t2 = t * t;
  const float p = std::fma(std::fma(std::fma(kLog2C7, t2, kLog2C5), t2, kLog2C3), t2, kLog2C1);
  const float log2x = std::fma(t, p, float(e));
  const float y = norm * log2x;
  if (y < kMinExponent) return acc;
  if (y >= kMaxExponent) return acc + INFINITY;
  const float k = std::nearbyint(y);
  const float f = std::fma(norm, log2x, -k);
  float q = std::fma(kExp2C6, f, kExp2C5);
  q = std::fma(q, f, kExp2C4);
  q = std::fma(q, f, kExp2C3);
  q = std::fma(q, f, kExp2C2);
  q = std::fma(q, f, kExp2C1);
  q = std::fma(q, f, kExp2C0);
  const uint32_t scale_bits = uint32_t(int(k) + 127) << 23;
  float two_k;
  std::memcpy(&two_k, &scale_bits, sizeof two_k);
  return std::fma(q, two_k, acc);
}

}  // namespace

float grid_error_ref(const float* w, int64_t n, float scale, float zero, float maxq, float norm) {
  float lanes[kLanes] = {};
  for (int64_t j = 0; j < n; ++j) {
    float q = std::nearbyint(w[j] / scale) + zero;
    q = q > 0.0f ? q : 0.0f;
    q = q < maxq ? q : maxq;
    const float d = std::fma(scale, q - zero, -w[j]);
    float& acc = lanes[j % kLanes];
    acc = norm == 2.0f ? std::fma(d, d, acc) : add_power_of_abs(acc, d, norm);
  }
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace nibble::kernels
