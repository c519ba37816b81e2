// Packing and the choice between the AVX512-BF16 kernel and f32 BLAS.
#include "kernels/bf16_gemm.h"

#include <cblas.h>

#include "core/error.h"
#include "core/half.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

uint32_t bf16_pair(const float* row, int64_t cols, int64_t k) {
  const uint32_t low = f32_to_bf16(row[k]);
  const uint32_t high = k + 1 < cols ? f32_to_bf16(row[k + 1]) : 0;
  return low | high << 16;
}

float rounded(float v) { return bf16_to_f32(f32_to_bf16(v)); }

}  // namespace

Bf16Weights pack_bf16_weights(const float* W, int64_t rows, int64_t cols, Isa isa) {
  NIBBLE_CHECK(rows > 0 && cols > 0, "bf16 weights: shape ", rows, " x ", cols);
  Bf16Weights p;
  p.rows = rows;
  p.cols = cols;
  if (isa >= Isa::avx512 && cpu_runs(Isa::avx512)) {
    constexpr int64_t R = avx512::kBf16PanelRows;
    const int64_t pairs = (cols + 1) / 2, panel_count = (rows + R - 1) / R;
    p.panels.assign(size_t(panel_count * pairs * R), 0);
    for (int64_t r = 0; r < rows; ++r) {
      uint32_t* panel = &p.panels[size_t((r / R) * pairs * R + r % R)];
      for (int64_t j = 0; j < pairs; ++j) panel[j * R] = bf16_pair(W + r * cols, cols, 2 * j);
    }
  } else {
    p.rounded.resize(size_t(rows * cols));
    for (size_t i = 0; i < p.rounded.size(); ++i) p.rounded[i] = rounded(W[i]);
  }
  return p;
}

void bf16_gemm(const float* X, int64_t M, const Bf16Weights& W, float* Y, bool accumulate) {
  if (M == 0) return;
  const int64_t cols = W.cols;
  if (!W.panels.empty()) {
    const int64_t pairs = (cols + 1) / 2;
    std::vector<uint32_t> X_pairs(size_t(M * pairs));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t j = 0; j < pairs; ++j) X_pairs[size_t(m * pairs + j)] = bf16_pair(X + m * cols, cols, 2 * j);
    avx512::bf16_gemm_panels(X_pairs.data(), M, pairs, W.panels.data(), W.rows, Y, W.rows, accumulate);
    return;
  }
  NIBBLE_CHECK(!W.rounded.empty(), "bf16_gemm: weights were not packed");
  std::vector<float> Xr(size_t(M * cols));
  for (size_t i = 0; i < Xr.size(); ++i) Xr[i] = rounded(X[i]);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(W.rows), int(cols), 1.0f, Xr.data(), int(cols),
              W.rounded.data(), int(cols), accumulate ? 1.0f : 0.0f, Y, int(W.rows));
}

void bf16_gemm_ref(const float* X, int64_t M, const float* W, int64_t rows, int64_t cols, float* Y,
                   bool accumulate) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t r = 0; r < rows; ++r) {
      float sum = accumulate ? Y[m * rows + r] : 0.0f;
      for (int64_t k = 0; k < cols; ++k) sum += rounded(X[m * cols + k]) * rounded(W[r * cols + k]);
      Y[m * rows + r] = sum;
    }
}

}  // namespace nibble::kernels
