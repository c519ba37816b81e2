// K-quants (Q2_K .. Q6_K, Q8_K) and the scale searches of ggml-quants.c:
// spec §5. Reference quantizers without an importance vector, llama.cpp's
// quantize_*_impl ("imatrix") paths with one. Same f32 operation order as
// llama.cpp throughout (see formats/gguf_blocks.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "formats/gguf_blocks_internal.h"

namespace nibble::formats::gguf_detail {

// ---------------------------------------------------------------- searches

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, size_t(n));
    return 0.f;
  }
  float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = qw ? qw[i] : x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = qw ? qw[i] : x[i] * x[i];
      sumlx += w * x[i] * float(l);
      suml2 += w * float(l) * float(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, size_t(n));
    return 0.f;
  }
  const float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * float(L[i]) * float(L[i]);
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::memset(L, 0, size_t(n));
    *the_min = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    // min here is the best fit so far, as in llama.cpp.
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      sum_l += w * float(l);
      sum_l2 += w * float(l) * float(l);
      sum_xl += w * float(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, Laux, size_t(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max <= min) {
    std::memset(L, 0, size_t(n));
    *the_min = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_mad += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      // The best-fit min so far may sit near max: clamp before rounding.
      const float v = iscale * (x[i] - min);
      const int l = v > 0 ? nearest_int(v < float(nmax) ? v : float(nmax)) : 0;
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      sum_l += w * float(l);
      sum_l2 += w * float(l) * float(l);
      sum_xl += w * float(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        mad += weights[i] * diff;
      }
      if (mad < best_mad) {
        std::memcpy(L, Laux, size_t(n));
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < kGroupMaxEps) {
    std::memset(L, 0, size_t(n));
    return 0.f;
  }
  float iscale = float(nmax) / max;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * float(L[i]);
    best_mse += quant_weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * float(is) + float(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * float(l);
      mse += quant_weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = uint8_t(l);
    const float w = quant_weights[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      float sl2 = suml2 - w * float(L[i]) * float(L[i]);
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = uint8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

namespace {

// 2-bit codes L[0 .. 256) into the bit planes of Q2_K/Q3_K qs: for each half
// of 128, byte l holds elements l, l + 32, l + 64, l + 96.
void pack_2bit_planes(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 256; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                              (L[j + l + 96] << 6));
}

// (scale, min) codes of eight 32-value sub-blocks into Q4_K/Q5_K's 12 bytes.
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      scales[j - 0] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

// Sixteen 6-bit Q3_K scale codes (0 .. 63) into its 12 bytes.
void pack_q3k_scales(const int* codes, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    int l = codes[j];
    if (j < 8) {
      scales[j] = uint8_t(l & 0xF);
    } else {
      scales[j - 8] |= uint8_t((l & 0xF) << 4);
    }
    l >>= 4;
    scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
  }
}

// Final codes of Q4_K / Q5_K from the stored (f16) scales, then packing.
void requantize_k4(const float* x, const uint8_t* scales, uint16_t d16, uint16_t dmin16,
                   int nmax, uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kernels::kquant_scale_min(scales, j, &sc, &m);
    const float d = f16_to_f32(d16) * float(sc);
    if (!d) continue;
    const float dm = f16_to_f32(dmin16) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

// Q3_K's final codes (0 .. 7) and hmask/qs packing from the stored scales.
void finish_q3_K(const float* x, BlockQ3_K* y, int8_t* L) {
  for (int j = 0; j < 16; ++j) {
    const int sc = kernels::q3k_scale(y->scales, j);
    const float d = f16_to_f32(y->d) * float(sc);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
  std::memset(y->hmask, 0, 32);
  uint8_t Lu[256];
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < 256; ++j) {
    int l = L[j];
    if (l > 3) {
      y->hmask[m] |= hm;
      l -= 4;
    }
    Lu[j] = uint8_t(l);
    if (++m == 32) {
      m = 0;
      hm = uint8_t(hm << 1);
    }
  }
  pack_2bit_planes(Lu, y->qs);
}

// Q5_K: low nibbles into qs (as Q4_K), fifth bits into qh.
void pack_q5_K(const uint8_t* L, BlockQ5_K* y) {
  std::memset(y->qh, 0, 32);
  uint8_t* ql = y->qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < 256; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        y->qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        y->qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
    ql += 32;
  }
}

void pack_q4_K(const uint8_t* L, BlockQ4_K* y) {
  uint8_t* q = y->qs;
  for (int j = 0; j < 256; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}

// sigma^2 of the k-quant imatrix paths: factor * mean x^2 over the super-block.
float block_sigma2(const float* x, float factor) {
  float sumx2 = 0;
  for (int j = 0; j < 256; ++j) sumx2 += x[j] * x[j];
  return factor * sumx2 / 256;
}

}  // namespace

// ---------------------------------------------------------------- Q2_K

void quantize_q2_K(const float* x, BlockQ2_K* y, int64_t nb, const float* importance) {
  uint8_t L[256], Laux[16];
  float weights[16], mins[16], scales[16];
  if (!importance) {
    constexpr float q4scale = 15.f;
    for (int64_t i = 0; i < nb; ++i, x += 256) {
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                     -0.5f, 0.1f, 15, true);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
        y[i].d = f32_to_f16(max_scale / q4scale);
      } else {
        std::memset(y[i].scales, 0, 16);
        y[i].d = f32_to_f16(0.f);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < 16; ++j)
          y[i].scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
        y[i].dmin = f32_to_f16(max_min / q4scale);
      } else {
        y[i].dmin = f32_to_f16(0.f);
      }
      for (int j = 0; j < 16; ++j) {
        const float d = f16_to_f32(y[i].d) * float(y[i].scales[j] & 0xF);
        if (!d) continue;
        const float dm = f16_to_f32(y[i].dmin) * float(y[i].scales[j] >> 4);
        for (int ii = 0; ii < 16; ++ii) {
          const int l = nearest_int((x[16 * j + ii] + dm) / d);
          L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
        }
      }
      pack_2bit_planes(L, y[i].qs);
    }
    return;
  }
  float sw[16];
  uint8_t Ls[16], Lm[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    std::memset(sw, 0, sizeof(sw));
    const float sigma2 = block_sigma2(x, 1.0f);
    for (int j = 0; j < 16; ++j) {
      const float* qw = importance + 256 * i + 16 * j;
      for (int l = 0; l < 16; ++l)
        weights[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      for (int l = 0; l < 16; ++l) sw[j] += weights[l];
      scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
    }
    float dm = make_qp_quants(16, 15, scales, Ls, sw);
    float mm = make_qp_quants(16, 15, mins, Lm, sw);
    y[i].d = f32_to_f16(dm);
    y[i].dmin = f32_to_f16(mm);
    dm = f16_to_f32(y[i].d);
    mm = f16_to_f32(y[i].dmin);
    for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
    for (int j = 0; j < 16; ++j) {
      const float d = dm * float(y[i].scales[j] & 0xF);
      if (!d) continue;
      const float m = mm * float(y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + m) / d);
        L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit_planes(L, y[i].qs);
  }
}

void dequantize_q2_K(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
    for (int e = 0; e < 256; ++e, ++y) {
      const int h = e / 128, p = (e % 128) / 32, l = e % 32;
      const uint8_t sc = x[i].scales[e / 16];
      const float dl = d * float(sc & 0xF), ml = min * float(sc >> 4);
      *y = dl * float((x[i].qs[32 * h + l] >> (2 * p)) & 3) - ml;
    }
  }
}

// ---------------------------------------------------------------- Q3_K

void quantize_q3_K(const float* x, BlockQ3_K* y, int64_t nb, const float* importance) {
  int8_t L[256];
  float scales[16];
  int codes[16];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 256) {
      float max_scale = 0, amax = 0;
      for (int j = 0; j < 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
          amax = scale;
          max_scale = scales[j];
        }
      }
      if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) {
          const int8_t l = int8_t(nearest_int(iscale * scales[j]));
          codes[j] = std::max<int>(-32, std::min<int>(31, l)) + 32;
        }
        pack_q3k_scales(codes, y[i].scales);
        y[i].d = f32_to_f16(1 / iscale);
      } else {
        std::memset(y[i].scales, 0, 12);
        y[i].d = f32_to_f16(0.f);
      }
      finish_q3_K(x, &y[i], L);
    }
    return;
  }
  float weight[16], sw[16];
  int8_t Ls[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float sigma2 = block_sigma2(x, 2.0f);
    for (int j = 0; j < 16; ++j) {
      const float* qw = importance + 256 * i + 16 * j;
      for (int l = 0; l < 16; ++l)
        weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 16; ++l) sumw += weight[l];
      sw[j] = sumw;
      scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    const float d_block = make_qx_quants(16, 32, scales, Ls, sw);
    for (int j = 0; j < 16; ++j) codes[j] = Ls[j];
    pack_q3k_scales(codes, y[i].scales);
    y[i].d = f32_to_f16(d_block);
    finish_q3_K(x, &y[i], L);
  }
}

void dequantize_q3_K(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = f16_to_f32(x[i].d);
    for (int e = 0; e < 256; ++e, ++y) {
      const int h = e / 128, p = (e % 128) / 32, l = e % 32;
      const float dl = d_all * float(kernels::q3k_scale(x[i].scales, e / 16));
      const int low = (x[i].qs[32 * h + l] >> (2 * p)) & 3;
      const int high = (x[i].hmask[e % 32] >> (e / 32)) & 1;
      *y = dl * float(low - (high ? 0 : 4));
    }
  }
}

// ---------------------------------------------------------------- Q4_K

void quantize_q4_K(const float* x, BlockQ4_K* y, int64_t nb, const float* importance) {
  uint8_t L[256], Laux[32], ls[8], lm[8];
  float weights[32], mins[8], scales[8];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 256) {
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                     -1.f, 0.1f, 20, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
      const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
      for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
        lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
      }
      pack_scale_min_k4(ls, lm, y[i].scales);
      y[i].d = f32_to_f16(max_scale / 63.f);
      y[i].dmin = f32_to_f16(max_min / 63.f);
      requantize_k4(x, y[i].scales, y[i].d, y[i].dmin, 15, L);
      pack_q4_K(L, &y[i]);
    }
    return;
  }
  float sw[8];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float sigma2 = block_sigma2(x, 2.0f);
    for (int j = 0; j < 8; ++j) {
      const float* qw = importance + 256 * i + 32 * j;
      for (int l = 0; l < 32; ++l)
        weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = make_qkx3_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(8, 63, scales, ls, sw);
    const float m_block = make_qp_quants(8, 63, mins, lm, sw);
    pack_scale_min_k4(ls, lm, y[i].scales);
    y[i].d = f32_to_f16(d_block);
    y[i].dmin = f32_to_f16(m_block);
    requantize_k4(x, y[i].scales, y[i].d, y[i].dmin, 15, L);
    pack_q4_K(L, &y[i]);
  }
}

void dequantize_q4_K(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
    for (int j = 0; j < 8; ++j, y += 32) {
      uint8_t sc, m;
      kernels::kquant_scale_min(x[i].scales, j, &sc, &m);
      const float dl = d * float(sc), ml = min * float(m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) y[l] = dl * float((q[l] >> shift) & 0xF) - ml;
    }
  }
}

// ---------------------------------------------------------------- Q5_K

void quantize_q5_K(const float* x, BlockQ5_K* y, int64_t nb, const float* importance) {
  uint8_t L[256], Laux[32], ls[8], lm[8];
  float weights[32], mins[8], scales[8];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 256) {
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < 8; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                     -0.5f, 0.1f, 15, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
      const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
      for (int j = 0; j < 8; ++j) {
        ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
        lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
      }
      pack_scale_min_k4(ls, lm, y[i].scales);
      y[i].d = f32_to_f16(max_scale / 63.f);
      y[i].dmin = f32_to_f16(max_min / 63.f);
      requantize_k4(x, y[i].scales, y[i].d, y[i].dmin, 31, L);
      pack_q5_K(L, &y[i]);
    }
    return;
  }
  float sw[8];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    const float sigma2 = block_sigma2(x, 2.0f);
    for (int j = 0; j < 8; ++j) {
      const float* qw = importance + 256 * i + 32 * j;
      for (int l = 0; l < 32; ++l)
        weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = make_qkx3_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
    }
    const float d_block = make_qp_quants(8, 63, scales, ls, sw);
    const float m_block = make_qp_quants(8, 63, mins, lm, sw);
    for (int j = 0; j < 8; ++j) {
      ls[j] = std::min<uint8_t>(63, ls[j]);
      lm[j] = std::min<uint8_t>(63, lm[j]);
    }
    pack_scale_min_k4(ls, lm, y[i].scales);
    y[i].d = f32_to_f16(d_block);
    y[i].dmin = f32_to_f16(m_block);
    requantize_k4(x, y[i].scales, y[i].d, y[i].dmin, 31, L);
    pack_q5_K(L, &y[i]);
  }
}

void dequantize_q5_K(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
    for (int j = 0; j < 8; ++j, y += 32) {
      uint8_t sc, m;
      kernels::kquant_scale_min(x[i].scales, j, &sc, &m);
      const float dl = d * float(sc), ml = min * float(m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int high = (x[i].qh[l] >> j) & 1;
        y[l] = dl * float(((q[l] >> shift) & 0xF) + (high ? 16 : 0)) - ml;
      }
    }
  }
}

// ---------------------------------------------------------------- Q6_K

void quantize_q6_K(const float* x, BlockQ6_K* y, int64_t nb, const float* importance) {
  int8_t L[256];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      const float* qw = importance ? importance + 256 * i + 16 * ib : nullptr;
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = f32_to_f16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib)
      y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < 16; ++j) {
      const float d = f16_to_f32(y[i].d) * float(y[i].scales[j]);
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l + 0] = uint8_t(q1 | (q3 << 4));
        ql[l + 32] = uint8_t(q2 | (q4 << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                        ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

void dequantize_q6_K(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int e = 0; e < 256; ++e, ++y) {
      const int h = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t ql = x[i].ql[64 * h + 32 * (quarter & 1) + l];
      const int low = quarter < 2 ? ql & 0xF : ql >> 4;
      const int high = (x[i].qh[32 * h + l] >> (2 * quarter)) & 3;
      const int q = (low | (high << 4)) - 32;
      *y = d * float(x[i].scales[e / 16]) * float(q);
    }
  }
}

// ---------------------------------------------------------------- Q8_K

void quantize_q8_K(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max = 0, amax = 0;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, 256);
      // llama.cpp leaves bsums unset here; zero is what they sum to.
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < 256; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_q8_K(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i)
    for (int j = 0; j < 256; ++j) *y++ = x[i].d * float(x[i].qs[j]);
}

}  // namespace nibble::formats::gguf_detail
