#include "quant/gptq.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/half.h"
#include "quant/group_params.h"

namespace nibble::quant {

bool inverse_cholesky_upper(std::vector<float>& H, int64_t n) {
  const int N = int(n);
  if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'L', N, H.data(), N) != 0) return false;
  if (LAPACKE_spotri(LAPACK_ROW_MAJOR, 'L', N, H.data(), N) != 0) return false;
  for (int64_t i = 0; i < n; ++i)  // spotri filled the lower triangle only
    for (int64_t j = i + 1; j < n; ++j) H[i * n + j] = H[j * n + i];
  if (LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'U', N, H.data(), N) != 0) return false;
  for (int64_t i = 0; i < n; ++i)
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

  // Static groups are fitted on the original columns before any update.
  std::vector<GroupParams> static_params;
  if (o.static_groups && !per_channel)
    for (int t = 0; t < out.groups; ++t)
      for (int64_t r = 0; r < rows; ++r)
        static_params.push_back(fit(&W[r * cols + t * g], std::min(g, cols - t * g)));

  std::vector<int64_t> perm(static_cast<size_t>(cols));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * cols + a] > H[b * cols + b]; });
  std::vector<float> Wp(size_t(rows * cols)), Hp(size_t(cols * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) Wp[r * cols + j] = W[r * cols + perm[j]];
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) Hp[i * cols + j] = H[perm[i] * cols + perm[j]];

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

  std::vector<GroupParams> current(static_cast<size_t>(rows));
  if (per_channel)
    for (int64_t r = 0; r < rows; ++r) current[r] = fit(&Wp[r * cols], cols);

  const int64_t B = o.block_size;
  std::vector<float> W1, Err1;
  for (int64_t i1 = 0; i1 < cols; i1 += B) {
    const int64_t i2 = std::min(cols, i1 + B), bw = i2 - i1;
    W1.assign(size_t(rows * bw), 0);
    Err1.assign(size_t(rows * bw), 0);
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(&Wp[r * cols + i1], bw, &W1[r * bw]);
    for (int64_t i = 0; i < bw; ++i) {
      const int64_t c = i1 + i;
      int group = 0;
      if (!per_channel) {
        if (o.static_groups) {
          group = int(perm[c] / g);
          for (int64_t r = 0; r < rows; ++r) current[r] = static_params[size_t(group * rows + r)];
        } else {
          group = int(c / g);
          // The reference refits from the global W, which lacks this block's in-block updates.
          if (c % g == 0)
            for (int64_t r = 0; r < rows; ++r)
              current[r] = fit(&Wp[r * cols + c], std::min(g, cols - c));
        }
      }
      const float d = U[c * cols + c];
      for (int64_t r = 0; r < rows; ++r) {
        const GroupParams& p = current[r];
        const float w = W1[r * bw + i];
        const int q = quantize_value(w, p, maxq);
        const float deq = p.scale * (float(q) - p.zero);
        out.codes[r * cols + perm[c]] = uint8_t(q);
        out.scales[r * out.groups + group] = p.scale;
        out.zeros[r * out.groups + group] = p.zero;
        const float e = (w - deq) / d;
        out.loss += double(w - deq) * (w - deq) / (double(d) * d) / 2;
        float* row = &W1[r * bw];
        const float* u = &U[c * cols + i1];
        for (int64_t j = i; j < bw; ++j) row[j] -= e * u[j];
        Err1[r * bw + i] = e;
      }
      out.g_idx[perm[c]] = o.static_groups && !per_channel ? int32_t(perm[c] / g) : int32_t(group);
    }
    if (i2 < cols)  // W[:, i2:] -= Err1 · U[i1:i2, i2:]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(cols - i2), int(bw),
                  -1.0f, Err1.data(), int(bw), &U[i1 * cols + i2], int(cols), 1.0f, &Wp[i2],
                  int(cols));
  }
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
