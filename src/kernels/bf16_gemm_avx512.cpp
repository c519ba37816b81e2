// bf16_gemm, AVX512-BF16 build. A tile of MR ≤ 12 rows of X by one 32-row
// panel of W keeps 2·MR f32 accumulators in registers; each pair of columns
// costs two panel loads, MR broadcasts and 2·MR vdpbf16ps over the whole
// length of the rows. Rows of X go in blocks sized to stay in L2 while the
// panels of W stream past them.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/bf16_gemm.h"

namespace nibble::kernels::avx512 {

namespace {

constexpr int kMaxTileRows = 12;
constexpr int64_t kBlockBytes = 256 * 1024;

template <int MR>
void tile(const uint32_t* x, int64_t pairs, const uint32_t* panel, float* y, int64_t ldy, __mmask16 low,
          __mmask16 high, bool accumulate) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm512_maskz_loadu_ps(low, y + r * ldy) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_maskz_loadu_ps(high, y + r * ldy + 16) : _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < pairs; ++j) {
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel + j * kBf16PanelRows);
    const __m512bh w1 = (__m512bh)_mm512_loadu_si512(panel + j * kBf16PanelRows + 16);
    for (int r = 0; r < MR; ++r) {
      const __m512bh xr = (__m512bh)_mm512_set1_epi32(int(x[r * pairs + j]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], w0, xr);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], w1, xr);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(y + r * ldy, low, acc[r][0]);
    _mm512_mask_storeu_ps(y + r * ldy + 16, high, acc[r][1]);
  }
}

using TileFn = void (*)(const uint32_t*, int64_t, const uint32_t*, float*, int64_t, __mmask16, __mmask16, bool);
constexpr TileFn kTiles[kMaxTileRows + 1] = {nullptr,  tile<1>, tile<2>, tile<3>,  tile<4>,  tile<5>, tile<6>,
                                             tile<7>,  tile<8>, tile<9>, tile<10>, tile<11>, tile<12>};

__mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

}  // namespace

void bf16_gemm_panels(const uint32_t* X_pairs, int64_t M, int64_t pairs, const uint32_t* panels, int64_t rows,
                      float* Y, int64_t ldy, bool accumulate) {
  int64_t block = kBlockBytes / (pairs * 4) / kMaxTileRows * kMaxTileRows;
  block = block < kMaxTileRows ? kMaxTileRows : block;
  for (int64_t m0 = 0; m0 < M; m0 += block) {
    const int64_t m1 = m0 + block < M ? m0 + block : M;
    for (int64_t n0 = 0; n0 < rows; n0 += kBf16PanelRows) {
      const uint32_t* panel = panels + (n0 / kBf16PanelRows) * pairs * kBf16PanelRows;
      const __mmask16 low = first_lanes(rows - n0), high = first_lanes(rows - n0 - 16);
      for (int64_t m = m0; m < m1; m += kMaxTileRows) {
        const int64_t mr = m1 - m < kMaxTileRows ? m1 - m : kMaxTileRows;
        kTiles[mr](X_pairs + m * pairs, pairs, panel, Y + m * ldy + n0, ldy, low, high, accumulate);
      }
    }
  }
}

}  // namespace nibble::kernels::avx512
