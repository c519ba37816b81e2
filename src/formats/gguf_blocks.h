// llama.cpp's weight blocks: exact dequantization and llama.cpp's own
// quantizers, so files we write load in llama.cpp with the same bytes
// `llama-quantize` would produce (shared/specs/gguf.md §5).
//
// A row of n values is n / block_size consecutive blocks (block structs in
// kernels/gguf_block_layout.h). Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL.
//
// quantize_row follows ggml_quantize_chunk for one row of a weight matrix:
//   - without importance, each type's reference quantizer (quantize_row_*_ref,
//     with the k-quants' make_qx/qkx2/q3 searches); IQ4_NL uses the ntry = 7
//     search that llama-quantize runs, not the plain ref;
//   - with importance (the imatrix entry for this tensor: mean x^2 of each
//     input column, n values), llama.cpp's quantize_*_impl paths for Q4_0,
//     Q4_1, Q5_0, Q5_1, Q2_K .. Q6_K and IQ4_NL. Q8_0, Q8_K and the float
//     types ignore it.
// The arithmetic mirrors llama.cpp's f32 operation order, so the result is
// byte-identical with llama.cpp's generic x86-64 build (tests/formats/
// gguf_blocks_llama_test.cpp checks that against libggml-base itself).
// This file is compiled for baseline x86-64 (no FMA): no multiply-add is
// ever fused, as in llama.cpp's reference build.
#pragma once

#include <cstdint>

#include "io/gguf.h"
#include "kernels/gguf_block_layout.h"

namespace nibble::formats {

using io::GgmlType;
using kernels::BlockIq4Nl;
using kernels::BlockQ2_K;
using kernels::BlockQ3_K;
using kernels::BlockQ4_0;
using kernels::BlockQ4_1;
using kernels::BlockQ4_K;
using kernels::BlockQ5_0;
using kernels::BlockQ5_1;
using kernels::BlockQ5_K;
using kernels::BlockQ6_K;
using kernels::BlockQ8_0;
using kernels::BlockQ8_K;

// Whether dequantize_row / quantize_row handle `type`.
bool gguf_codec_supports(GgmlType type);

// Bytes of a row of n values (n a multiple of the block size).
uint64_t gguf_row_bytes(GgmlType type, int64_t n);

// out[0 .. n) = the values of the n / block_size blocks at `blocks`.
// Throws nibble::Error for an unsupported type or n not a multiple of the block size.
void dequantize_row(GgmlType type, const void* blocks, float* out, int64_t n);

// Quantizes x[0 .. n) into n / block_size blocks at `blocks`. `importance`
// (nullable) has n entries, one per input column. Throws nibble::Error as
// dequantize_row does.
void quantize_row(GgmlType type, const float* x, void* blocks, int64_t n,
                  const float* importance = nullptr);

// The exact rounding helper of the k-quant code: round half to even via the
// 1.5 * 2^23 trick, valid for |x| <= 4194303 (spec §0). Exposed for tests.
int gguf_nearest_int(float x);

}  // namespace nibble::formats
