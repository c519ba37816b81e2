// The loops of the SIMD activations (kernels/activations.h), written once
// with GCC's vector extensions and compiled by each ISA build for its own
// vector types F and I (8 floats and int32s for AVX2, 16 for AVX-512; GCC
// takes vector_size only from a constant, hence the types, not the width,
// as the parameters).
// Everything here has internal linkage, so no function is shared between
// two ISA builds.
//
// exp x = 2^y, y = x · log2 e, split as y = k + f with k = round(y) and
// |f| ≤ ½: 2^f by the degree-6 series of grid_error's exp2
// (kernels/grid_error_poly.h), 2^k by writing k into the exponent bits.
// Relative error < 1e-6 + 1e-7·|x| (the rounding of y grows with |x|);
// below 2^-126 the result is 0, above 2^128 it is +inf.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/grid_error_poly.h"

namespace nibble::kernels {
namespace {

template <class Floats, class Ints>
struct Lanes {
  using F = Floats;
  using I = Ints;
  static constexpr int W = sizeof(F) / sizeof(float);
  static_assert(sizeof(I) == sizeof(F));

  // A whole vector is one constant-size copy (a vector load or store); only
  // a tail takes the variable-length one, which GCC turns into `rep movs`.
  static F load(const float* p, int64_t n = W) {
    F v = {};
    if (n == W)
      std::memcpy(&v, p, sizeof v);
    else
      std::memcpy(&v, p, size_t(n) * sizeof(float));
    return v;
  }
  static void store(float* p, F v, int64_t n = W) {
    if (n == W)
      std::memcpy(p, &v, sizeof v);
    else
      std::memcpy(p, &v, size_t(n) * sizeof(float));
  }

  static F exp(F x) {
    using namespace grid_error_poly;
    const F lowest = F{} - 127.0f, highest = F{} + 128.0f;
    F y = x * 1.44269504f;
    y = y < lowest ? lowest : y;
    y = y > highest ? highest : y;
    const F k = (y + 12582912.0f) - 12582912.0f;  // round to nearest: 1.5 · 2^23 drops the fraction
    const F f = y - k;
    F p = F{} + kExp2C6;
    p = p * f + kExp2C5;
    p = p * f + kExp2C4;
    p = p * f + kExp2C3;
    p = p * f + kExp2C2;
    p = p * f + kExp2C1;
    p = p * f + kExp2C0;
    // k = −127 gives exponent bits 0: 2^k reads as 0 (a zero mantissa).
    const I bits = (__builtin_convertvector(k, I) + 127) << 23;
    F scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
  }
};

template <class F, class I>
void softmax_body(float* x, int64_t n) {
  using L = Lanes<F, I>;
  constexpr int W = L::W;
  F most = F{} + x[0];
  for (int64_t i = 0; i < n; i += W) {
    const int64_t m = n - i < W ? n - i : W;
    F v = L::load(x + i, m);
    for (int64_t j = m; j < W; ++j) v[j] = x[0];  // lanes past the end do not count
    most = v > most ? v : most;
  }
  float max = most[0];
  for (int j = 1; j < W; ++j) max = most[j] > max ? most[j] : max;
  F sum = {};
  for (int64_t i = 0; i < n; i += W) {
    const int64_t m = n - i < W ? n - i : W;
    F e = L::exp(L::load(x + i, m) - max);
    for (int64_t j = m; j < W; ++j) e[j] = 0;  // lanes past the end add nothing
    sum += e;
    L::store(x + i, e, m);
  }
  float total = 0;
  for (int j = 0; j < W; ++j) total += sum[j];
  const float inv = 1.0f / total;
  for (int64_t i = 0; i < n; i += W) {
    const int64_t m = n - i < W ? n - i : W;
    L::store(x + i, L::load(x + i, m) * inv, m);
  }
}

template <class F, class I>
void silu_mul_body(const float* gate, float* y, int64_t n) {
  using L = Lanes<F, I>;
  constexpr int W = L::W;
  for (int64_t i = 0; i < n; i += W) {
    const int64_t m = n - i < W ? n - i : W;
    const typename L::F g = L::load(gate + i, m);
    L::store(y + i, L::load(y + i, m) * (g / (1.0f + L::exp(-g))), m);
  }
}

}  // namespace
}  // namespace nibble::kernels
