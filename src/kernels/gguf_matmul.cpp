// Packing GGUF blocks into the kernels' panels, and the threaded entry point.
#include "kernels/gguf_matmul.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/streamed_memory.h"
#include "kernels/dispatch.h"
#include "kernels/gguf_block_layout.h"
#include "kernels/gguf_packed_layout.h"

namespace nibble::kernels {

using namespace gguf_packed;

bool gguf_kernel_supports(uint32_t id) {
  return id == 2 || id == 8 || id == 12 || id == 13 || id == 14;
}

const char* gguf_kernel_type_name(GgufKernelType type) {
  switch (type) {
    case GgufKernelType::Q4_0: return "Q4_0";
    case GgufKernelType::Q8_0: return "Q8_0";
    case GgufKernelType::Q4_K: return "Q4_K";
    case GgufKernelType::Q5_K: return "Q5_K";
    case GgufKernelType::Q6_K: return "Q6_K";
  }
  return "?";
}

int64_t gguf_kernel_block_size(GgufKernelType type) {
  return type == GgufKernelType::Q4_0 || type == GgufKernelType::Q8_0 ? kQK : kQK_K;
}

size_t gguf_kernel_type_size(GgufKernelType type) {
  switch (type) {
    case GgufKernelType::Q4_0: return sizeof(BlockQ4_0);
    case GgufKernelType::Q8_0: return sizeof(BlockQ8_0);
    case GgufKernelType::Q4_K: return sizeof(BlockQ4_K);
    case GgufKernelType::Q5_K: return sizeof(BlockQ5_K);
    case GgufKernelType::Q6_K: return sizeof(BlockQ6_K);
  }
  return 0;
}

namespace {

int64_t panel_bytes_for(GgufKernelType type, int64_t cols) {
  const int64_t blocks = cols / gguf_kernel_block_size(type);
  switch (type) {
    case GgufKernelType::Q4_0: return legacy_panel_bytes(blocks, kQ4_0Qs);
    case GgufKernelType::Q8_0: return legacy_panel_bytes(blocks, kQ8_0Qs);
    case GgufKernelType::Q4_K: return blocks * kQ4K_Tile;
    case GgufKernelType::Q5_K: return blocks * kQ5K_Tile;
    case GgufKernelType::Q6_K: return blocks * kQ6K_Tile;
  }
  return 0;
}

void put_f16(uint8_t* p, uint16_t h) { std::memcpy(p, &h, 2); }

// Row r of a panel, one GGUF block (block index b of the row) at a time.
void pack_q4_0(const BlockQ4_0& blk, uint8_t* panel, int64_t b, int r) {
  uint8_t codes[32];
  for (int e = 0; e < 16; ++e) {
    codes[e] = blk.qs[e] & 0xF;
    codes[e + 16] = blk.qs[e] >> 4;
  }
  put_nibbles(panel + legacy_codes(b, kQ4_0Qs), r, codes);
  put_f16(panel + legacy_scales(b, kQ4_0Qs) + 2 * r, blk.d);
}

void pack_q8_0(const BlockQ8_0& blk, uint8_t* panel, int64_t b, int r) {
  uint8_t* group = panel + legacy_codes(b, kQ8_0Qs);
  for (int e = 0; e < 32; ++e) group[byte_q8(r, e)] = uint8_t(blk.qs[e]) ^ 0x80;
  put_f16(panel + legacy_scales(b, kQ8_0Qs) + 2 * r, blk.d);
}

// The 4-bit chunks, scales, mins and d/dmin shared by Q4_K and Q5_K tiles.
void pack_k4_common(const uint16_t d, const uint16_t dmin, const uint8_t* scales,
                    const uint8_t* codes, uint8_t* tile, int r, bool fifth_bit, int64_t sc_off,
                    int64_t min_off, int64_t d_off, int64_t dmin_off) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kquant_scale_min(scales, j, &sc, &m);
    tile[sc_off + 16 * j + r] = uint8_t(sc | (m & 3) << 6);
    tile[min_off + 16 * (j / 2) + r] |= uint8_t((m >> 2) << (4 * (j % 2)));
    put_nibbles(tile + k4_chunks(j, fifth_bit), r, codes + 32 * j);
  }
  put_f16(tile + d_off + 2 * r, d);
  put_f16(tile + dmin_off + 2 * r, dmin);
}

void pack_q4_K(const BlockQ4_K& blk, uint8_t* tile, int r) {
  uint8_t codes[256];
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) codes[32 * j + l] = (blk.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
  pack_k4_common(blk.d, blk.dmin, blk.scales, codes, tile, r, false, kQ4K_Sc, kQ4K_Min, kQ4K_D,
                 kQ4K_Dmin);
}

void pack_q5_K(const BlockQ5_K& blk, uint8_t* tile, int r) {
  uint8_t codes[256];
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l)
      codes[32 * j + l] = uint8_t(((blk.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) |
                                  (((blk.qh[l] >> j) & 1) << 4));
  pack_k4_common(blk.d, blk.dmin, blk.scales, codes, tile, r, true, kQ5K_Sc, kQ5K_Min, kQ5K_D,
                 kQ5K_Dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t* masks = tile + q5_masks(j);
    for (int e = 0; e < 32; ++e) {
      const int bit = q5_mask_bit(r, e);
      if (codes[32 * j + e] & 0x10) masks[bit / 8] |= uint8_t(1u << (bit % 8));
    }
  }
}

void pack_q6_K(const BlockQ6_K& blk, uint8_t* tile, int r) {
  uint8_t low[256], high[256];  // element 128 h + 32 quarter + l, GGUF's order
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const uint8_t ql0 = blk.ql[64 * h + l], ql1 = blk.ql[64 * h + 32 + l], qh = blk.qh[32 * h + l];
      uint8_t* lo = low + 128 * h + l;
      uint8_t* hi = high + 128 * h + l;
      lo[0] = ql0 & 0xF, lo[32] = ql1 & 0xF, lo[64] = ql0 >> 4, lo[96] = ql1 >> 4;
      hi[0] = qh & 3, hi[32] = (qh >> 2) & 3, hi[64] = (qh >> 4) & 3, hi[96] = qh >> 6;
    }
  for (int G = 0; G < 8; ++G) {
    put_nibbles(tile + q6_low(G), r, low + 32 * G);
    // Row r's 8 high-bit bytes, each written once: the byte of element e0
    // holds the high bits of elements e0 + 4 f, f < 4.
    for (const int e0 : {0, 1, 2, 3, 16, 17, 18, 19}) {
      uint8_t byte = 0;
      for (int f = 0; f < 4; ++f) byte |= uint8_t(high[32 * G + e0 + 4 * f] << q6_high_shift(e0 + 4 * f));
      tile[q6_high(G) + q6_high_byte(r, e0)] = byte;
    }
  }
  for (int s = 0; s < 16; ++s) tile[q6_scales(s / 2) + 2 * r + s % 2] = uint8_t(blk.scales[s]);
  const float d = f16_to_f32(blk.d);
  std::memcpy(tile + kQ6K_D + 4 * r, &d, 4);
}

}  // namespace

// ---------------------------------------------------------------- GgufPackedMatrix

GgufPackedMatrix::GgufPackedMatrix(GgufPackedMatrix&& other) noexcept
    : storage_(other.storage_), bytes_(other.bytes_), view_(other.view_) {
  other.storage_ = nullptr;
  other.bytes_ = 0;
  other.view_.data = nullptr;
}

GgufPackedMatrix& GgufPackedMatrix::operator=(GgufPackedMatrix&& other) noexcept {
  if (this != &other) {
    free_streamed(storage_, bytes_);
    storage_ = other.storage_;
    bytes_ = other.bytes_;
    view_ = other.view_;
    other.storage_ = nullptr;
    other.bytes_ = 0;
    other.view_.data = nullptr;
  }
  return *this;
}

GgufPackedMatrix::~GgufPackedMatrix() { free_streamed(storage_, bytes_); }

GgufPackedMatrix GgufPackedMatrix::pack(GgufKernelType type, const void* blocks, int64_t rows,
                                        int64_t cols) {
  NIBBLE_CHECK(gguf_kernel_supports(uint32_t(type)), "gguf pack: no kernel for ggml type ",
               uint32_t(type));
  const int64_t block = gguf_kernel_block_size(type);
  NIBBLE_CHECK(rows > 0 && cols > 0 && cols % block == 0, "gguf pack: ",
               gguf_kernel_type_name(type), " weight of ", rows, " x ", cols,
               " needs positive dimensions and a multiple of ", block, " columns");
  NIBBLE_CHECK(blocks != nullptr, "gguf pack: null blocks");
  const int64_t nb = cols / block;
  const int64_t panels = (rows + kRows - 1) / kRows;
  const int64_t panel_bytes = panel_bytes_for(type, cols);
  NIBBLE_CHECK(panel_bytes <= INT64_MAX / panels, "gguf pack: ", rows, " x ", cols, " is too large");

  GgufPackedMatrix m;
  m.bytes_ = size_t(panels * panel_bytes);
  m.storage_ = allocate_streamed(m.bytes_);  // zeroed: padding rows get zero codes and scales
  m.view_ = GgufPackedView{type, rows, cols, panel_bytes, m.storage_};

  const size_t row_bytes = size_t(nb) * gguf_kernel_type_size(type);
  const auto* src = static_cast<const uint8_t*>(blocks);
  parallel_for(panels, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint8_t* panel = m.storage_ + p * panel_bytes;
      for (int r = 0; r < kRows && p * kRows + r < rows; ++r) {
        const uint8_t* row = src + size_t(p * kRows + r) * row_bytes;
        for (int64_t b = 0; b < nb; ++b) {
          switch (type) {
            case GgufKernelType::Q4_0:
              pack_q4_0(reinterpret_cast<const BlockQ4_0*>(row)[b], panel, b, r);
              break;
            case GgufKernelType::Q8_0:
              pack_q8_0(reinterpret_cast<const BlockQ8_0*>(row)[b], panel, b, r);
              break;
            case GgufKernelType::Q4_K:
              pack_q4_K(reinterpret_cast<const BlockQ4_K*>(row)[b], panel + b * kQ4K_Tile, r);
              break;
            case GgufKernelType::Q5_K:
              pack_q5_K(reinterpret_cast<const BlockQ5_K*>(row)[b], panel + b * kQ5K_Tile, r);
              break;
            case GgufKernelType::Q6_K:
              pack_q6_K(reinterpret_cast<const BlockQ6_K*>(row)[b], panel + b * kQ6K_Tile, r);
              break;
          }
        }
      }
    }
  });
  return m;
}

// ---------------------------------------------------------------- entry point

GgufActivationSizes gguf_activation_sizes(int64_t n, int64_t cols, int64_t block) {
  return {n * cols, n * (cols / block), n * (cols / 16), n * (cols / 32)};
}

namespace {

constexpr IsaKernels<GgufRowsFn> kMatmul{gguf_matmul_ref, avx2::gguf_matmul_rows,
                                         avx512::gguf_matmul_rows};
constexpr IsaKernels<GgufQuantizeFn> kQuantize{gguf_quantize_activations_ref,
                                               avx2::gguf_quantize_activations,
                                               avx512::gguf_quantize_activations};

// The calling thread's quantized activations. They only grow, so decode
// steps after the first allocate nothing.
struct ActivationBuffers {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int16_t> sum16, sum32;

  GgufActivations prepare(int64_t n, int64_t cols, int64_t block) {
    const GgufActivationSizes s = gguf_activation_sizes(n, cols, block);
    if (int64_t(q.size()) < s.q) q.resize(size_t(s.q));
    if (int64_t(d.size()) < s.d) d.resize(size_t(s.d));
    if (int64_t(sum16.size()) < s.sum16) sum16.resize(size_t(s.sum16));
    if (int64_t(sum32.size()) < s.sum32) sum32.resize(size_t(s.sum32));
    return {n, cols, block, q.data(), d.data(), sum16.data(), sum32.data()};
  }
};

}  // namespace

void gguf_matmul(const GgufPackedView& W, const float* X, int64_t n, float* Y) {
  NIBBLE_CHECK(n >= 0, "gguf_matmul: negative token count ", n);
  if (n == 0) return;
  NIBBLE_CHECK(W.data && X && Y, "gguf_matmul: null weights, input or output");
  // A named reference: inside the lambdas (run on pool threads) the bare
  // thread_local name would mean each worker's own, empty buffers.
  thread_local ActivationBuffers calling_thread_buffers;
  ActivationBuffers& buffers = calling_thread_buffers;
  const int64_t block = gguf_kernel_block_size(W.type);
  const GgufActivations A = buffers.prepare(n, W.cols, block);
  const GgufQuantizeFn quantize = pick(kQuantize);
  auto quantize_tokens = [&](int64_t t0, int64_t t1) {
    quantize(X, t0, t1, W.cols, block, buffers.q.data(), buffers.d.data(), buffers.sum16.data(),
             buffers.sum32.data());
  };
  if (n * W.cols < kMinParallelWork)
    quantize_tokens(0, n);
  else
    parallel_for(n, quantize_tokens);
  const GgufRowsFn kernel = pick(kMatmul);
  for_row_blocks(W.rows, kRows, n * W.cols,
                 [&](int64_t r0, int64_t r1) { kernel(W, A, r0, r1, Y, W.rows); });
}

}  // namespace nibble::kernels
