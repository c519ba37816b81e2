// Products with group-wise affine integer weights (2, 3, 4 or 8 bits):
//
//   Y[t, r] = sum_c X[t, c] * W[r, c],   W[r, c] = s[r, g] * (q[r, c] - z[r, g]),
//
// g the group of input column c. The canonical form (quant/quant_tensor.h)
// is repacked once, at load, into the runtime layout below; every product
// then quantizes the activations to int8 and runs integer dot products.
//
// Runtime layout (PackedQuantMatrix)
// ---------------------------------
// Columns: the kernel walks the groups in order 0..G-1; the columns of group
// g (those with g_idx[c] == g, in ascending order; without g_idx the
// contiguous range [g*gs, (g+1)*gs)) are padded with zero activations to a
// whole number of 32-column blocks. So act-order (GPTQ desc_act) costs one
// gather of X per product, and a last partial group or any group size that
// is not a multiple of 32 costs only padding. col_index maps each runtime
// position to its input column (-1: padding); it is empty when the order is
// the identity and only the tail is padded, and then X is read in place.
//
// Rows: blocks of 16 output rows (the last one padded with zero rows). A
// block's bytes are one contiguous stream, for each group:
//   64-byte header   16 fp16 scales, then 16 fp16 zeros (rows 0..15)
//   per 32-column block, 64*bits bytes of codes
// Codes sit in "lanes": byte 4*i + e of every 64-byte vector belongs to row
// i, column 4*k + e of the block for the chunk k that vector holds, so one
// VNNI instruction multiplies 16 rows by 4 columns with no horizontal sums.
// Within the block of 32 columns = 8 chunks of 4:
//   8 bits  vector k (0..7) holds chunk k
//   4 bits  vector k (0..3): low nibble chunk k, high nibble chunk k + 4
//   2 bits  vector k (0..1): bits 2m..2m+1 hold chunk k + 2m (m = 0..3)
//   3 bits  vectors 0..1 as 2 bits for the low two bits; vector 2 bit k
//           (k = 0..7) holds bit 2 of chunk k
// Weight bytes per 16 x 32 block = 64 * bits; with one header per group of
// gs columns this is bits + 32/gs bits per weight (w4g128: 4.25).
//
// Activations (QuantizedActivations)
// ----------------------------------
// Each token's runtime-ordered row is cut into blocks of 32: scale
// xs = max|x| / 127, codes xq = round_half_even(x * (127 / max|x|)) in
// [-127, 127] (all zero when max|x| == 0), and per group
// XS[g] = sum over its blocks of xs * sum(xq). Then, exactly,
//
//   y = sum_g s_g * ( sum_b xs_b * sum_c q_c * xq_c  -  z_g * XS[g] )
//
// with integer inner sums and f32 everywhere else. qmatmul_ref computes
// this formula in scalar code (the oracle of the SIMD builds, which agree to
// f32 rounding); qmatmul_dequant_ref is the plain f32 product with the
// dequantized weights. The two differ by the activation rounding only:
//
//   |y_int8 - y_f32| <= sum_c |W[r, c]| * xs_b(c) / 2   (+ f32 rounding),
//
// in practice ~0.3-0.5% of |y| RMS for Gaussian-like activations.
//
// The SIMD builds: AVX-512 VNNI (vpdpbusd on zmm, 16 rows x 4 columns per
// instruction); and one 256-bit kernel (qmatmul_ymm.h, 8 rows x 4 columns
// per instruction) built with two dot-product steps: AVX2 (vpmaddubsw +
// vpmaddwd; 8-bit codes go through q - 128 and the sign trick, since u8 x s8
// pairs overflow int16) and 256-bit VNNI (one vpdpbusd instead), the latter
// twice: VEX for AVX-VNNI CPUs, EVEX for AVX-512 CPUs without AVX-VNNI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace nibble::kernels {

constexpr int kQRowBlock = 16;  // output rows per interleaved block
constexpr int kQColBlock = 32;  // columns per activation block
constexpr int kQHeaderBytes = 64;

// Index of the first of n codes above maxq, or -1 when all fit. One OR over
// all codes (vectorized) answers the common case; only a bad matrix pays a
// second pass to find the offender.
int64_t first_code_above(const uint8_t* codes, int64_t n, int maxq);

// The canonical weights, borrowed (layout of quant::QuantTensor): codes
// [rows, cols] one per byte, fp16 scales and zeros [rows, groups], groups =
// ceil(cols / group_size), optional g_idx [cols] (the group of each column).
struct QuantSource {
  int64_t rows = 0, cols = 0;
  int bits = 4;
  int64_t group_size = 128;
  const uint8_t* codes = nullptr;
  const uint16_t* scales = nullptr;
  const uint16_t* zeros = nullptr;
  const int32_t* g_idx = nullptr;  // null: column c is in group c / group_size
};

// What the ISA builds read: plain pointers into a PackedQuantMatrix.
struct QuantMatrixView {
  const uint8_t* data = nullptr;
  int64_t rows = 0, row_blocks = 0;
  int64_t row_block_bytes = 0;  // stride between row blocks
  int64_t k_pad = 0;            // runtime columns (a multiple of 32)
  int64_t blocks = 0;           // k_pad / 32
  int64_t groups = 0;
  const int32_t* group_blocks = nullptr;  // 32-column blocks of each group
  int bits = 4;
};

// Quantized activations of n tokens in runtime column order, token-major.
struct QuantActivationsView {
  const int8_t* q = nullptr;           // [n, k_pad]
  const float* scale = nullptr;        // [n, blocks]
  const float* group_sum = nullptr;    // [n, groups]: XS[g]
  int64_t n = 0, k_pad = 0, blocks = 0, groups = 0;
};

// The runtime layout (see top), built once from the canonical weights.
class PackedQuantMatrix {
 public:
  PackedQuantMatrix() = default;
  // Validates the source (bits, sizes, code and g_idx ranges) and repacks it.
  explicit PackedQuantMatrix(const QuantSource& source);

  QuantMatrixView view() const;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int bits() const { return bits_; }
  int64_t groups() const { return int64_t(group_blocks_.size()); }
  int64_t k_pad() const { return k_pad_; }
  // Runtime position -> input column (-1: padding); empty if in place.
  const std::vector<int32_t>& col_index() const { return col_index_; }
  // Bytes held: the code/header stream plus the column map.
  size_t bytes() const;

  // The canonical arrays back, for tests: codes [rows, cols] in input
  // column order, fp16 scales and zeros [rows, groups].
  void unpack(uint8_t* codes, uint16_t* scales, uint16_t* zeros) const;

  // Bytes of scratch qmatmul needs for n tokens.
  size_t scratch_bytes(int64_t n) const;

 private:
  struct Free {
    size_t bytes;  // as allocated (core/streamed_memory.h)
    void operator()(uint8_t* p) const;
  };
  // Writes row blocks [rb0, rb1) from the source (runtime column `index`,
  // groups' first runtime columns `start`).
  template <int Bits>
  void pack_row_blocks(const QuantSource& s, const int32_t* index, const int64_t* start, int64_t rb0,
                       int64_t rb1);
  std::unique_ptr<uint8_t[], Free> data_;
  size_t data_bytes_ = 0;
  int64_t rows_ = 0, cols_ = 0, k_pad_ = 0, row_block_bytes_ = 0;
  int bits_ = 0;
  std::vector<int32_t> group_blocks_, col_index_;
};

// Y [n, rows] = X [n, cols] * W^T. Quantizes X into `scratch` (at least
// W.scratch_bytes(n) bytes, any alignment), then runs the best ISA build
// over row blocks in parallel. Allocates nothing.
void qmatmul(const PackedQuantMatrix& W, const float* X, int64_t n, float* Y, void* scratch,
             size_t scratch_bytes);
// The same with a per-thread scratch buffer that grows to the largest n seen
// (so steady-state decode allocates nothing).
void qmatmul(const PackedQuantMatrix& W, const float* X, int64_t n, float* Y);

// Quantizes X [n, cols] for W into scratch; the view points into scratch.
QuantActivationsView quantize_activations(const PackedQuantMatrix& W, const float* X, int64_t n,
                                          void* scratch, size_t scratch_bytes);

// The code of row i, column j (0..31) of one 16 x 32 block (64 * bits
// bytes), and its inverse on a zero-initialized block (layout at the top).
// For baseline-built code only (the ISA builds must not emit inline copies).
inline int packed_code(const uint8_t* block, int bits, int i, int j) {
  const int k = j >> 2, at = 4 * i + (j & 3);
  switch (bits) {
    case 8: return block[64 * k + at];
    case 4: return (block[64 * (k & 3) + at] >> (4 * (k >> 2))) & 15;
    case 2: return (block[64 * (k & 1) + at] >> (2 * (k >> 1))) & 3;
    default:  // 3
      return ((block[64 * (k & 1) + at] >> (2 * (k >> 1))) & 3) |
             (((block[128 + at] >> k) & 1) << 2);
  }
}
inline void put_packed_code(uint8_t* block, int bits, int i, int j, int q) {
  const int k = j >> 2, at = 4 * i + (j & 3);
  switch (bits) {
    case 8: block[64 * k + at] = uint8_t(q); break;
    case 4: block[64 * (k & 3) + at] |= uint8_t(q << (4 * (k >> 2))); break;
    case 2: block[64 * (k & 1) + at] |= uint8_t(q << (2 * (k >> 1))); break;
    default:  // 3
      block[64 * (k & 1) + at] |= uint8_t((q & 3) << (2 * (k >> 1)));
      block[128 + at] |= uint8_t(((q >> 2) & 1) << k);
  }
}

// Scalar references.
// Y[t * ldy + r] for rows r of row blocks [rb0, rb1) (rows past W.rows are
// not written): the int8-activation formula above.
void qmatmul_ref(const QuantMatrixView& W, int64_t rb0, int64_t rb1, const QuantActivationsView& X,
                 float* Y, int64_t ldy);
// Plain f32 product with the dequantized canonical weights, Y [n, rows].
void qmatmul_dequant_ref(const QuantSource& W, const float* X, int64_t n, float* Y);
// Quantizes `blocks` blocks of 32 contiguous floats: codes, scales, sums.
void quantize_blocks_ref(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum);

// The same contracts per instruction set (qmatmul_avx2.cpp,
// qmatmul_avxvnni.cpp, qmatmul_avxvnni_evex.cpp, qmatmul_avx512.cpp); call
// one only where cpu_runs(Isa::...) (cpu_runs_avxvnni_vex/evex()) holds.
// quantize_blocks of every build gives bit-identical results.
namespace avx2 {
void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy);
void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum);
}  // namespace avx2
namespace avxvnni {
void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy);
void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum);
}  // namespace avxvnni
namespace avxvnni_evex {
void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy);
void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum);
}  // namespace avxvnni_evex
namespace avx512 {
void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy);
void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum);
}  // namespace avx512

}  // namespace nibble::kernels
