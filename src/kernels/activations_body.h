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

// exp_nearest: e^x in double, then rounded once to float. x · log2 e = k
// + f with k = round(·) (|f| ≤ ½): 2^k goes into the exponent bits, e^(f ln 2)
// is the degree-11 Taylor series (remainder < 1e-14 for |f ln 2| ≤ 0.35).
// The whole error stays near 2e-14 relative, so the float is libm's but
// where e^x lies within that of a rounding midpoint. D: doubles, L64:
// uint64s of the same width, H: as many floats.
template <class D, class L64, class H>
D exp_nearest_vector(H xs) {
  D t = __builtin_convertvector(xs, D) * 1.4426950408889634;
  t = t < -1020.0 ? D{} - 1020.0 : t;  // 2^-1020 and 2^1020 round to 0 and inf as floats; NaN stays
  t = t > 1020.0 ? D{} + 1020.0 : t;
  // Adding 1.5 · 2^52 rounds t to an integer k, which then sits in the low
  // mantissa bits (no float -> int64 conversion, which AVX2 lacks).
  const D big = t + 6755399441055744.0;
  const D k = big - 6755399441055744.0;
  const D u = (t - k) * 0.6931471805599453;
  D p = D{} + 1.0 / 39916800.0;  // 1/11!
  p = p * u + 1.0 / 3628800.0;
  p = p * u + 1.0 / 362880.0;
  p = p * u + 1.0 / 40320.0;
  p = p * u + 1.0 / 5040.0;
  p = p * u + 1.0 / 720.0;
  p = p * u + 1.0 / 120.0;
  p = p * u + 1.0 / 24.0;
  p = p * u + 1.0 / 6.0;
  p = p * u + 0.5;
  p = p * u + 1.0;
  p = p * u + 1.0;
  L64 bits;
  std::memcpy(&bits, &big, sizeof bits);
  bits = (bits - 0x4338000000000000 + 1023) << 52;  // 2^k
  D scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

template <class D, class L64, class H>
void exp_nearest_body(const float* x, float* y, int64_t n) {
  constexpr int N = sizeof(D) / sizeof(double);
  constexpr int kChains = 4;  // independent vectors per step: the series is one long dependency chain
  static_assert(sizeof(L64) == sizeof(D) && sizeof(H) * 2 == sizeof(D));
  int64_t i = 0;
  for (; i + kChains * N <= n; i += kChains * N) {
    H xs[kChains];
    std::memcpy(xs, x + i, sizeof xs);
    D e[kChains];
    for (int c = 0; c < kChains; ++c) e[c] = exp_nearest_vector<D, L64, H>(xs[c]);
    for (int c = 0; c < kChains; ++c) xs[c] = __builtin_convertvector(e[c], H);
    std::memcpy(y + i, xs, sizeof xs);
  }
  for (; i < n; i += N) {
    const int64_t m = n - i < N ? n - i : N;
    H xs = {};
    std::memcpy(&xs, x + i, size_t(m) * sizeof(float));
    const H out = __builtin_convertvector((exp_nearest_vector<D, L64, H>(xs)), H);
    std::memcpy(y + i, &out, size_t(m) * sizeof(float));
  }
}

}  // namespace
}  // namespace nibble::kernels
