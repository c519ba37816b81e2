#include "quant/hessian.h"

#include <cblas.h>

#include <algorithm>

#include "core/blas_threads.h"
#include "core/error.h"
#include "core/parallel.h"

namespace nibble::quant {

HessianAccumulator::HessianAccumulator(int64_t cols) : cols_(cols), sum_(size_t(cols * cols), 0.0f) {}

void HessianAccumulator::add(const float* X, int64_t tokens, int64_t sequences) {
  if (tokens == 0) return;
  // Row-major X (tokens x cols): Xᵀ X is "transposed" syrk in column-major terms.
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(cols_), int(tokens), 1.0f, X,
              int(cols_), 1.0f, sum_.data(), int(cols_));
  sequences_ += sequences;
}

void HessianAccumulator::merge(const HessianAccumulator& other) {
  NIBBLE_CHECK(other.cols_ == cols_, "merging Hessians of different sizes");
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
  sequences_ += other.sequences_;
}

std::vector<float> HessianAccumulator::hessian() const {
  NIBBLE_CHECK(sequences_ > 0, "Hessian has no calibration data");
  std::vector<float> h(sum_.size());
  const float scale = 2.0f / float(sequences_);
  // Mirrored in tiles, which keep the column-wise writes in cache.
  constexpr int64_t kTile = 64;
  for (int64_t i0 = 0; i0 < cols_; i0 += kTile)
    for (int64_t j0 = i0; j0 < cols_; j0 += kTile)
      for (int64_t i = i0; i < std::min(i0 + kTile, cols_); ++i)
        for (int64_t j = std::max(i, j0); j < std::min(j0 + kTile, cols_); ++j)
          h[i * cols_ + j] = h[j * cols_ + i] = sum_[i * cols_ + j] * scale;
  return h;
}

std::vector<float> HessianAccumulator::sum_of_squares() const {
  std::vector<float> d(static_cast<size_t>(cols_));
  for (int64_t i = 0; i < cols_; ++i) d[i] = sum_[i * cols_ + i];
  return d;
}

double weighted_square_norm(const std::vector<float>& A, int64_t rows, int64_t cols,
                            const std::vector<float>& H) {
  NIBBLE_CHECK(A.size() == size_t(rows * cols) && H.size() == size_t(cols * cols),
               "weighted_square_norm: sizes do not match ", rows, " x ", cols);
  // a H aᵀ = 2 · a T aᵀ, T = H's upper triangle with its diagonal halved (H
  // is symmetric): a triangular product, half the work of a general one.
  // Rows are split over threads; per-row sums are added in row order so the
  // result does not depend on the split.
  std::vector<float> T(H.size());
  for (int64_t i = 0; i < cols; ++i) {
    std::copy(&H[i * cols + i], &H[(i + 1) * cols], &T[i * cols + i]);
    T[i * cols + i] *= 0.5f;
  }
  std::vector<double> per_row(static_cast<size_t>(rows));
  const SingleThreadedBlas blas_per_thread;
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> AT(&A[r0 * cols], &A[r1 * cols]);
    cblas_strmm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, int(r1 - r0), int(cols),
                1.0f, T.data(), int(cols), AT.data(), int(cols));
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += double(AT[(r - r0) * cols + c]) * A[r * cols + c];
      per_row[r] = 2 * s;
    }
  });
  double total = 0;
  for (double s : per_row) total += s;
  return total;
}

}  // namespace nibble::quant
