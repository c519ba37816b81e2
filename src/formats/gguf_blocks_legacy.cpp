// Legacy 32-value blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and IQ4_NL: spec §5.
//
// Every expression keeps llama.cpp's f32 operation order and its three
// roundings (roundf for Q8_0, truncation after +0.5 / +8.5 / +16.5 for the
// 4/5-bit reference quantizers, nearest_int in the searches); see
// formats/gguf_blocks.h.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "formats/gguf_blocks_internal.h"

namespace nibble::formats::gguf_detail {
namespace {

// sigma^2 of the legacy imatrix paths: mean x^2 over the whole row.
float row_sigma2(const float* x, int64_t n_per_row) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / float(n_per_row);
}

// The imatrix weight of each element: qw * sqrt(sigma^2 + x^2).
void imatrix_weights(const float* xb, const float* qw, float sigma2, int n, float* weight) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// The element with the largest |x|, keeping its sign (first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

// 5-bit codes L[0 .. 32) into Q5_0/Q5_1's qs and qh.
void pack_5bit(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xi0 = L[j], xi1 = L[j + 16];
    qs[j] = uint8_t((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}

// IQ4_NL's nearest level to x (levels sorted; exact ties go to the upper one):
// the count of midpoints (K[i-1] + K[i]) / 2 that x reaches, compared doubled
// so both sides are exact.
int iq4nl_index(float x) {
  const float x2 = x + x;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    idx = (x2 >= float(kernels::kIq4nlValues[j - 1] + kernels::kIq4nlValues[j])) ? j : idx;
  }
  return idx;
}

}  // namespace

// ---------------------------------------------------------------- Q4_0

void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb, const float* importance) {
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 32) {
      const float max = signed_absmax(x, 32);
      const float d = max / -8.0f;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      for (int j = 0; j < 16; ++j) {
        const float x0 = x[j] * id, x1 = x[16 + j] * id;
        const int xi0 = std::min(15, int(x0 + 8.5f));
        const int xi1 = std::min(15, int(x1 + 8.5f));
        y[i].qs[j] = uint8_t(xi0 | (xi1 << 4));
      }
    }
    return;
  }
  const float sigma2 = row_sigma2(x, nb * 32);
  float weight[32];
  int8_t L[32];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    imatrix_weights(xb, importance + 32 * i, sigma2, 32, weight);
    const float d = make_qx_quants(32, 8, xb, L, weight);
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) y[i].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = float((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = float((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// ---------------------------------------------------------------- Q4_1

void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb, const float* importance) {
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 32) {
      float min, max;
      min_max(x, 32, &min, &max);
      const float d = (max - min) / 15.0f;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      y[i].m = f32_to_f16(min);
      for (int j = 0; j < 16; ++j) {
        const float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
        const int xi0 = std::min(15, int(x0 + 0.5f));
        const int xi1 = std::min(15, int(x1 + 0.5f));
        y[i].qs[j] = uint8_t(xi0 | (xi1 << 4));
      }
    }
    return;
  }
  const float sigma2 = row_sigma2(x, nb * 32);
  float weight[32];
  uint8_t L[32], Laux[32];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    imatrix_weights(xb, importance + 32 * i, sigma2, 32, weight);
    float min;
    const float d = make_qkx3_quants(32, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(-min);
    for (int j = 0; j < 16; ++j) y[i].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = float(x[i].qs[j] >> 4) * d + m;
    }
  }
}

// ---------------------------------------------------------------- Q5_0

void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb, const float* importance) {
  uint8_t L[32];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 32) {
      const float max = signed_absmax(x, 32);
      const float d = max / -16.0f;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      for (int j = 0; j < 32; ++j) L[j] = uint8_t(std::min(31, int(x[j] * id + 16.5f)));
      pack_5bit(L, y[i].qs, y[i].qh);
    }
    return;
  }
  const float sigma2 = row_sigma2(x, nb * 32);
  float weight[32];
  int8_t Ls[32];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    imatrix_weights(xb, importance + 32 * i, sigma2, 32, weight);
    const float d = make_qx_quants(32, 16, xb, Ls, weight);
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) L[j] = uint8_t(Ls[j]);
    pack_5bit(L, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int h0 = int((qh >> j) & 1) << 4, h1 = int((qh >> (j + 16)) & 1) << 4;
      y[j] = float(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + 16] = float(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

// ---------------------------------------------------------------- Q5_1

void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb, const float* importance) {
  uint8_t L[32];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += 32) {
      float min, max;
      min_max(x, 32, &min, &max);
      const float d = (max - min) / 31.0f;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      y[i].m = f32_to_f16(min);
      for (int j = 0; j < 32; ++j) L[j] = uint8_t(int((x[j] - min) * id + 0.5f));
      pack_5bit(L, y[i].qs, y[i].qh);
    }
    return;
  }
  const float sigma2 = row_sigma2(x, nb * 32);
  float weight[32];
  uint8_t Laux[32];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + 32 * i;
    imatrix_weights(xb, importance + 32 * i, sigma2, 32, weight);
    float min;
    const float d = make_qkx3_quants(32, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(-min);
    pack_5bit(L, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int h0 = int((qh >> j) & 1) << 4, h1 = int((qh >> (j + 16)) & 1) << 4;
      y[j] = float((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + 16] = float((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

// ---------------------------------------------------------------- Q8_0

void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));  // half away from 0
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 32; ++j) y[j] = float(x[i].qs[j]) * d;
  }
}

// ---------------------------------------------------------------- IQ4_NL

// llama.cpp's quantize_iq4_nl (quantize_row_iq4_nl_impl with one 32-value
// block, ntry = 7), as llama-quantize runs it with or without an imatrix.
void quantize_iq4_nl(const float* x, BlockIq4Nl* y, int64_t nb, const float* importance) {
  constexpr int kNtry = 7;
  const int8_t* values = kernels::kIq4nlValues;
  float weight[32];
  uint8_t L[32];
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float* xb = x + 32 * ib;
    const float* qw = importance ? importance + 32 * ib : nullptr;
    float sigma2 = 0;
    for (int j = 0; j < 32; ++j) sigma2 += xb[j] * xb[j];
    sigma2 *= 2.f / 32;
    if (qw) {
      for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    float scale = 0;
    if (amax >= kGroupMaxEps) {
      float d = -max / float(values[0]);
      float id = 1 / d;
      float sumqx = 0, sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = values[iq4nl_index(id * xb[j])];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
      d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
      float best = d * sumqx;
      for (int itry = -kNtry; itry <= kNtry; ++itry) {
        id = float(itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; ++j) {
          const float q = values[iq4nl_index(id * xb[j])];
          sumqx += weight[j] * q * xb[j];
          sumq2 += weight[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
          d = sumqx / sumq2;
          best = d * sumqx;
        }
      }
      scale = d;
    }
    y[ib].d = f32_to_f16(scale);
    const float id = scale ? 1 / scale : 0;
    for (int j = 0; j < 32; ++j) L[j] = uint8_t(iq4nl_index(id * xb[j]));
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = uint8_t(L[j] | (L[16 + j] << 4));
  }
}

void dequantize_iq4_nl(const BlockIq4Nl* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(kernels::kIq4nlValues[x[i].qs[j] & 0xF]);
      y[j + 16] = d * float(kernels::kIq4nlValues[x[i].qs[j] >> 4]);
    }
  }
}

}  // namespace nibble::formats::gguf_detail
