// Products with llama.cpp block-quantized weights (Q8_0, Q4_0, Q4_K, Q5_K,
// Q6_K), the types GGUF models are mostly published in:
//
//   Y[t, r] = sum_c X[t, c] * W[r, c]      t < n, r < rows
//
// with W given as GGUF blocks (row r = cols / block_size blocks, spec §5).
//
// How: activations are quantized on the fly to int8 with one f32 scale per
// 32 values (Q8_0, Q4_0 weights) or per 256 (k-quants), as llama.cpp does
// with its Q8_0 / Q8_K activation types, plus integer sums per 16 and 32;
// weights stay in their integer codes, and each block's dot product is an
// exact integer sum (AVX-512 VNNI vpdpbusd, AVX2 vpmaddubsw) scaled once per
// block. Activation rounding as llama.cpp's: q = round-half-even(x * 127 /
// amax), and the block scale as its Q8_0 / Q8_K blocks keep it
// (gguf_activation_scale), so each block product equals llama.cpp's to the
// bit; identical in every build (the oracle and the SIMD quantizers are
// bit-identical, see the tests).
//
// Layout: at load, GgufPackedMatrix::pack repacks the GGUF blocks of each
// panel of 16 rows so that one 64-byte vector holds 4 consecutive codes of
// each of the 16 rows (one int32 lane per row): vpdpbusd against 4
// broadcast activation bytes then yields 16 rows' partial dot products with
// no horizontal sums, and a 16-row panel streams front to back. Q4_0, Q8_0,
// Q4_K and Q5_K keep GGUF's byte count (k-quant scales stay 6-bit, moved
// into vector lanes; Q4_0 and Q8_0 rows of an odd block count gain one
// empty block); Q6_K grows by 1.0%. Rows are padded to a multiple of 16
// with zero blocks.
//
// Threads: gguf_matmul splits panels over nibble::parallel_for. Decode (n =
// 1) allocates nothing once the calling thread has seen a row this long
// (the quantized activations live in a per-thread buffer that only grows).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/half.h"

namespace nibble::kernels {

// The weight types with a kernel; values are the ggml type ids (io::GgmlType).
enum class GgufKernelType : uint32_t { Q4_0 = 2, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14 };

bool gguf_kernel_supports(uint32_t ggml_type_id);
const char* gguf_kernel_type_name(GgufKernelType type);  // "Q4_K"
int64_t gguf_kernel_block_size(GgufKernelType type);     // 32 or 256
size_t gguf_kernel_type_size(GgufKernelType type);       // GGUF bytes per block

constexpr int64_t kGgufPanelRows = 16;

// The scale of an activation block whose largest |x| is amax: amax / 127
// rounded to fp16 for blocks of 32 (llama.cpp's Q8_0 stores its scale in
// fp16), 1 / (127 / amax) for blocks of 256 (its Q8_K).
inline float gguf_activation_scale(float amax, int64_t block) {
  if (block == 32) return round_to_f16(amax / 127.f);
  return amax > 0 ? 1.f / (127.f / amax) : 0.f;
}

// Packed weights as the kernels read them: ceil(rows / 16) panels of
// panel_bytes each, 64-byte aligned (see gguf_matmul.cpp for the layout).
struct GgufPackedView {
  GgufKernelType type;
  int64_t rows, cols;
  int64_t panel_bytes;
  const uint8_t* data;
};

// Owns a packed weight matrix. (Plain owning pointer rather than
// std::unique_ptr: this header is included by the per-ISA files, which must
// not instantiate library templates; see cmake/isa_flags.cmake.)
class GgufPackedMatrix {
 public:
  GgufPackedMatrix() = default;
  GgufPackedMatrix(GgufPackedMatrix&& other) noexcept;
  GgufPackedMatrix& operator=(GgufPackedMatrix&& other) noexcept;
  GgufPackedMatrix(const GgufPackedMatrix&) = delete;
  GgufPackedMatrix& operator=(const GgufPackedMatrix&) = delete;
  ~GgufPackedMatrix();

  // `blocks`: rows x (cols / block_size) GGUF blocks of `type`, row-major.
  // Throws nibble::Error if cols is not a multiple of the block size or a
  // dimension is not positive.
  static GgufPackedMatrix pack(GgufKernelType type, const void* blocks, int64_t rows,
                               int64_t cols);

  GgufPackedView view() const { return view_; }
  GgufKernelType type() const { return view_.type; }
  int64_t rows() const { return view_.rows; }
  int64_t cols() const { return view_.cols; }
  size_t bytes() const { return bytes_; }  // the packed weights, scales included

 private:
  uint8_t* storage_ = nullptr;  // 64-byte aligned, bytes_ long
  size_t bytes_ = 0;
  GgufPackedView view_{GgufKernelType::Q8_0, 0, 0, 0, nullptr};
};

// Y (n x rows) = X (n x cols) W^T, threaded over rows, best ISA build.
void gguf_matmul(const GgufPackedView& W, const float* X, int64_t n, float* Y);

// ---------------------------------------------------------------- pieces (tests)

// Activations quantized for the kernels: for token t < n, codes q[t * cols ..],
// scales d[t * (cols / block) ..], and exact code sums per 16 and per 32
// values sum16[t * (cols / 16) ..], sum32[t * (cols / 32) ..].
struct GgufActivations {
  int64_t n, cols, block;  // block: values per scale, 32 or 256
  const int8_t* q;
  const float* d;
  const int16_t* sum16;
  const int16_t* sum32;
};

// The element counts of each array of GgufActivations for n x cols.
struct GgufActivationSizes {
  int64_t q, d, sum16, sum32;
};
GgufActivationSizes gguf_activation_sizes(int64_t n, int64_t cols, int64_t block);

// Quantizes tokens [t0, t1) of X (n x cols, cols a multiple of `block`).
using GgufQuantizeFn = void (*)(const float* X, int64_t t0, int64_t t1, int64_t cols,
                                int64_t block, int8_t* q, float* d, int16_t* sum16,
                                int16_t* sum32);
// The scalar oracle.
void gguf_quantize_activations_ref(const float* X, int64_t t0, int64_t t1, int64_t cols,
                                   int64_t block, int8_t* q, float* d, int16_t* sum16,
                                   int16_t* sum32);

// Y[t * ldy + r] for every token of A and rows [r0, r1); r0 a multiple of 16.
using GgufRowsFn = void (*)(const GgufPackedView& W, const GgufActivations& A, int64_t r0,
                            int64_t r1, float* Y, int64_t ldy);
// The scalar reference: the same integer sums, in the most direct order.
void gguf_matmul_ref(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                     float* Y, int64_t ldy);

// Per-ISA builds (gguf_matmul_avx2.cpp, gguf_matmul_avx512.cpp); call one
// only where cpu_runs(Isa::avx2 / Isa::avx512) (kernels/dispatch.h) holds.
namespace avx2 {
void gguf_quantize_activations(const float* X, int64_t t0, int64_t t1, int64_t cols,
                               int64_t block, int8_t* q, float* d, int16_t* sum16,
                               int16_t* sum32);
void gguf_matmul_rows(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                      float* Y, int64_t ldy);
}  // namespace avx2
namespace avx512 {
void gguf_quantize_activations(const float* X, int64_t t0, int64_t t1, int64_t cols,
                               int64_t block, int8_t* q, float* d, int16_t* sum16,
                               int16_t* sum32);
void gguf_matmul_rows(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                      float* Y, int64_t ldy);
}  // namespace avx512

}  // namespace nibble::kernels
