#include "quant/gptq.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/blas_threads.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "quant/group_params.h"

namespace nibble::quant {

bool inverse_cholesky_upper(std::vector<float>& H, int64_t n) {
  // With J the index reversal, factor J H J = L Lᵀ; then H = R Rᵀ for the
  // upper triangular R = J L J, and H⁻¹ = (R⁻¹)ᵀ R⁻¹, so U = R⁻¹ = J L⁻¹ J:
  // one Cholesky and one triangular inverse, half the work of inverting H
  // and factoring the inverse.
  // Single-threaded: OpenBLAS's threaded factorization rounds differently
  // from one call to the next, and the codes must be reproducible.
  // LAPACK sees the row-major lower triangle as the column-major upper one
  // (Uᵀ U = L Lᵀ with U = Lᵀ, and U⁻¹ read back row-major is L⁻¹), so it
  // works in place, without LAPACKE's row-major transposed copies.
  const SingleThreadedBlas deterministic;
  const int N = int(n);
  std::reverse(H.begin(), H.end());  // (J H J)[i][j] = H[n−1−i][n−1−j]
  if (LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', N, H.data(), N) != 0) return false;
  if (LAPACKE_strtri_work(LAPACK_COL_MAJOR, 'U', 'N', N, H.data(), N) != 0) return false;
  std::reverse(H.begin(), H.end());
  for (int64_t i = 0; i < n; ++i)  // the upper triangle held J·(H's upper part)·J, unused by LAPACK
    for (int64_t j = 0; j < i; ++j) H[i * n + j] = 0;
  return true;
}

GptqOutput gptq_quantize(const float* W_in, int64_t rows, int64_t cols, std::vector<float> H,
                         const GptqOptions& o) {
  NIBBLE_CHECK(o.bits >= 2 && o.bits <= 8, "GPTQ bits must be 2..8, got ", o.bits);
  NIBBLE_CHECK(int64_t(H.size()) == cols * cols, "Hessian size does not match the layer");
  const int64_t g = (o.group_size <= 0 || o.group_size >= cols) ? cols : o.group_size;
  const bool per_channel = g == cols;
  const int maxq = (1 << o.bits) - 1;
  auto fit = [&](const float* w, int64_t n) {
    return o.clip_search ? fit_group_clipped(w, n, o.bits, o.symmetric) : fit_group(w, n, o.bits, o.symmetric);
  };

  GptqOutput out;
  out.rows = rows;
  out.cols = cols;
  out.groups = int((cols + g - 1) / g);
  out.codes.assign(size_t(rows * cols), 0);
  out.scales.assign(size_t(rows * out.groups), 0);
  out.zeros.assign(size_t(rows * out.groups), 0);
  out.g_idx.assign(size_t(cols), 0);
  std::vector<float> W(W_in, W_in + rows * cols);

  // Dead columns: inputs that were always zero.
  for (int64_t j = 0; j < cols; ++j)
    if (H[j * cols + j] == 0) {
      H[j * cols + j] = 1;
      for (int64_t r = 0; r < rows; ++r) W[r * cols + j] = 0;
    }

  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * cols + a] > H[b * cols + b]; });
  std::vector<float> Hp(static_cast<size_t>(cols * cols));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];
  std::vector<float>().swap(H);

  // Dampening, raised by 0.01 at a time while the factorization fails.
  double mean_diag = 0;
  for (int64_t j = 0; j < cols; ++j) mean_diag += Hp[j * cols + j];
  mean_diag /= double(cols);
  std::vector<float> U;
  for (double damp = o.damp;; damp += 0.01) {
    NIBBLE_CHECK(damp < 1.0, "Hessian is not positive definite even with damp ", damp);
    U = Hp;
    for (int64_t j = 0; j < cols; ++j) U[j * cols + j] += float(damp * mean_diag);
    if (inverse_cholesky_upper(U, cols)) {
      out.damp_used = damp;
      if (damp != o.damp)
        out.warnings.push_back(cat("Cholesky failed with damp ", o.damp, "; used ", damp));
      break;
    }
  }
  std::vector<float>().swap(Hp);

  for (int64_t c = 0; c < cols; ++c)
    out.g_idx[perm[c]] = int32_t(per_channel ? 0 : o.static_groups ? perm[c] / g : c / g);

  // Rows are independent given U: the column sweep runs on fixed slices of
  // kRowSlice rows, spread over the threads. Fixed slices keep every BLAS
  // call's shape, hence the codes, the same for any thread count; the loss
  // is summed in row order afterwards.
  constexpr int64_t kRowSlice = 64;
  std::vector<double> row_loss(static_cast<size_t>(rows), 0.0);
  // One slice of rows [r0, r1) through every column.
  auto sweep_rows = [&](int64_t r0, int64_t r1) {
    const int64_t n = r1 - r0;
    // The slice's rows, permuted (Wp) and as given (for static groups).
    std::vector<float> Wp(static_cast<size_t>(n * cols));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < cols; ++j) Wp[r * cols + j] = W[(r0 + r) * cols + perm[j]];
    // Static groups are fitted on the original columns before any update.
    std::vector<GroupParams> static_params;
    if (o.static_groups && !per_channel)
      for (int t = 0; t < out.groups; ++t)
        for (int64_t r = 0; r < n; ++r)
          static_params.push_back(fit(&W[(r0 + r) * cols + t * g], std::min(g, cols - t * g)));
    std::vector<GroupParams> current(static_cast<size_t>(n));
    if (per_channel)
      for (int64_t r = 0; r < n; ++r) current[r] = fit(&Wp[r * cols], cols);

    const int64_t B = o.block_size;
    std::vector<float> W1, Err1;
    for (int64_t i1 = 0; i1 < cols; i1 += B) {
      const int64_t i2 = std::min(cols, i1 + B), bw = i2 - i1;
      W1.assign(static_cast<size_t>(n * bw), 0);
      Err1.assign(static_cast<size_t>(n * bw), 0);
      for (int64_t r = 0; r < n; ++r) std::copy_n(&Wp[r * cols + i1], bw, &W1[r * bw]);
      for (int64_t i = 0; i < bw; ++i) {
        const int64_t c = i1 + i;
        const int group = out.g_idx[perm[c]];
        if (!per_channel) {
          if (o.static_groups) {
            for (int64_t r = 0; r < n; ++r) current[r] = static_params[size_t(group * n + r)];
          } else if (c % g == 0) {
            // The reference refits from the global W, which lacks this block's in-block updates.
            for (int64_t r = 0; r < n; ++r) current[r] = fit(&Wp[r * cols + c], std::min(g, cols - c));
          }
        }
        const float d = U[c * cols + c];
        for (int64_t r = 0; r < n; ++r) {
          const GroupParams& p = current[r];
          const float w = W1[r * bw + i];
          const int q = quantize_value(w, p, maxq);
          const float deq = p.scale * (float(q) - p.zero);
          const int64_t row = r0 + r;
          out.codes[row * cols + perm[c]] = uint8_t(q);
          out.scales[row * out.groups + group] = p.scale;
          out.zeros[row * out.groups + group] = p.zero;
          const float e = (w - deq) / d;
          row_loss[row] += double(w - deq) * (w - deq) / (double(d) * d) / 2;
          float* wrow = &W1[r * bw];
          const float* u = &U[c * cols + i1];
          for (int64_t j = i; j < bw; ++j) wrow[j] -= e * u[j];
          Err1[r * bw + i] = e;
        }
      }
      if (i2 < cols)  // W[:, i2:] -= Err1 · U[i1:i2, i2:]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(cols - i2), int(bw), -1.0f,
                    Err1.data(), int(bw), &U[i1 * cols + i2], int(cols), 1.0f, &Wp[i2], int(cols));
    }
  };
  const SingleThreadedBlas blas_per_thread;
  parallel_for((rows + kRowSlice - 1) / kRowSlice, [&](int64_t s0, int64_t s1) {
    for (int64_t slice = s0; slice < s1; ++slice)
      sweep_rows(slice * kRowSlice, std::min(rows, (slice + 1) * kRowSlice));
  });
  for (double l : row_loss) out.loss += l;
  return out;
}


std::vector<float> dequantize(const GptqOutput& q) {
  std::vector<float> out(size_t(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      const int64_t t = r * q.groups + q.g_idx[c];
      out[r * q.cols + c] = q.scales[t] * (float(q.codes[r * q.cols + c]) - q.zeros[t]);
    }
  return out;
}

}  // namespace nibble::quant
