// Integer-weight products: repacking into the runtime layout, activation
// quantization, and the threaded entry points (layout in qmatmul.h).
#include "kernels/qmatmul.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/streamed_memory.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

using QmatmulRowsFn = void (*)(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                               const QuantActivationsView& X, float* Y, int64_t ldy);
using QuantizeBlocksFn = void (*)(const float* x, int64_t blocks, int8_t* q, float* scale,
                                  int32_t* sum);

constexpr IsaKernels<QmatmulRowsFn> kQmatmul{.scalar = qmatmul_ref,
                                             .avx2 = avx2::qmatmul_rows,
                                             .avx512 = avx512::qmatmul_rows,
                                             .avxvnni = avxvnni::qmatmul_rows,
                                             .avxvnni_evex = avxvnni_evex::qmatmul_rows};
constexpr IsaKernels<QuantizeBlocksFn> kQuantize{.scalar = quantize_blocks_ref,
                                                 .avx2 = avx2::quantize_blocks,
                                                 .avx512 = avx512::quantize_blocks,
                                                 .avxvnni = avxvnni::quantize_blocks,
                                                 .avxvnni_evex = avxvnni_evex::quantize_blocks};

constexpr size_t kAlign = 64;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// The pieces of a scratch buffer for n tokens, in order, each 64-aligned.
struct ScratchLayout {
  size_t q = 0, scale = 0, sum = 0, group_sum = 0, total = 0;
  ScratchLayout(int64_t n, int64_t k_pad, int64_t blocks, int64_t groups) {
    q = 0;
    scale = round_up(q + size_t(n * k_pad), kAlign);
    sum = round_up(scale + size_t(n * blocks) * 4, kAlign);
    group_sum = round_up(sum + size_t(n * blocks) * 4, kAlign);
    total = round_up(group_sum + size_t(n * groups) * 4, kAlign) + kAlign;  // + alignment slack
  }
};

}  // namespace

int64_t first_code_above(const uint8_t* codes, int64_t n, int maxq) {
  const uint8_t above = uint8_t(~maxq);
  uint8_t seen = 0;
  for (int64_t i = 0; i < n; ++i) seen |= uint8_t(codes[i] & above);
  for (int64_t i = 0; seen && i < n; ++i)
    if (codes[i] > maxq) return i;
  return -1;
}

void PackedQuantMatrix::Free::operator()(uint8_t* p) const { free_streamed(p, bytes); }

PackedQuantMatrix::PackedQuantMatrix(const QuantSource& s) {
  NIBBLE_CHECK(s.bits == 2 || s.bits == 3 || s.bits == 4 || s.bits == 8,
               "quantized matrix: bits must be 2, 3, 4 or 8, got ", s.bits);
  NIBBLE_CHECK(s.rows >= 0 && s.cols >= 0, "quantized matrix: negative shape ", s.rows, " x ",
               s.cols);
  NIBBLE_CHECK(s.group_size >= 1, "quantized matrix: group size must be positive, got ",
               s.group_size);
  NIBBLE_CHECK(s.cols <= (int64_t(1) << 30), "quantized matrix: ", s.cols,
               " input columns is more than supported");
  const int64_t groups = s.cols == 0 ? 0 : (s.cols + s.group_size - 1) / s.group_size;
  NIBBLE_CHECK(s.rows * s.cols == 0 || (s.codes && s.scales && s.zeros),
               "quantized matrix: missing codes, scales or zeros");
  rows_ = s.rows;
  cols_ = s.cols;
  bits_ = s.bits;

  // Runtime column order: the members of each group, ascending, padded.
  std::vector<int64_t> count(size_t(groups), 0);
  if (s.g_idx) {
    for (int64_t c = 0; c < s.cols; ++c) {
      const int32_t g = s.g_idx[c];
      NIBBLE_CHECK(g >= 0 && g < groups, "quantized matrix: g_idx[", c, "] = ", g,
                   " is outside [0, ", groups, ")");
      ++count[size_t(g)];
    }
  } else {
    for (int64_t g = 0; g < groups; ++g)
      count[size_t(g)] = std::min(s.group_size, s.cols - g * s.group_size);
  }
  group_blocks_.resize(size_t(groups));
  std::vector<int64_t> start(size_t(groups) + 1, 0);
  for (int64_t g = 0; g < groups; ++g) {
    group_blocks_[size_t(g)] = int32_t((count[size_t(g)] + kQColBlock - 1) / kQColBlock);
    start[size_t(g) + 1] = start[size_t(g)] + int64_t(group_blocks_[size_t(g)]) * kQColBlock;
  }
  k_pad_ = start[size_t(groups)];
  std::vector<int32_t> index(size_t(k_pad_), -1);
  {
    std::vector<int64_t> next(start.begin(), start.end() - 1);
    for (int64_t c = 0; c < s.cols; ++c) {
      const int64_t g = s.g_idx ? s.g_idx[c] : c / s.group_size;
      index[size_t(next[size_t(g)]++)] = int32_t(c);
    }
  }
  bool identity = true;
  for (int64_t p = 0; p < k_pad_ && identity; ++p)
    identity = index[size_t(p)] == (p < s.cols ? p : -1);
  if (!identity) col_index_ = index;

  // Codes must fit their bits (a wider value would lose bits silently).
  const int64_t bad = first_code_above(s.codes, s.rows * s.cols, (1 << s.bits) - 1);
  NIBBLE_CHECK(bad < 0, "quantized matrix: code ", int(s.codes[bad]), " at row ", bad / s.cols,
               ", column ", bad % s.cols, " does not fit in ", s.bits, " bits");

  row_block_bytes_ = groups * kQHeaderBytes + (k_pad_ / kQColBlock) * 64 * s.bits;
  const int64_t row_blocks = (s.rows + kQRowBlock - 1) / kQRowBlock;
  data_bytes_ = size_t(row_blocks * row_block_bytes_);
  data_ = std::unique_ptr<uint8_t[], Free>(allocate_streamed(data_bytes_), Free{data_bytes_});

  parallel_for(row_blocks, [&](int64_t rb0, int64_t rb1) {
    switch (s.bits) {
      case 2: return pack_row_blocks<2>(s, index.data(), start.data(), rb0, rb1);
      case 3: return pack_row_blocks<3>(s, index.data(), start.data(), rb0, rb1);
      case 4: return pack_row_blocks<4>(s, index.data(), start.data(), rb0, rb1);
      default: return pack_row_blocks<8>(s, index.data(), start.data(), rb0, rb1);
    }
  });
}

// Bits is a template parameter so that put_packed_code's switch folds away
// in the loop over every code of the matrix.
template <int Bits>
void PackedQuantMatrix::pack_row_blocks(const QuantSource& s, const int32_t* index, const int64_t* start,
                                        int64_t rb0, int64_t rb1) {
  const int64_t groups = int64_t(group_blocks_.size());
  for (int64_t rb = rb0; rb < rb1; ++rb) {
    uint8_t* p = data_.get() + rb * row_block_bytes_;
    const int64_t r0 = rb * kQRowBlock, nr = std::min<int64_t>(kQRowBlock, s.rows - r0);
    for (int64_t g = 0; g < groups; ++g) {
      uint16_t header[2 * kQRowBlock] = {};
      for (int64_t i = 0; i < nr; ++i) {
        header[i] = s.scales[(r0 + i) * groups + g];
        header[kQRowBlock + i] = s.zeros[(r0 + i) * groups + g];
      }
      std::memcpy(p, header, sizeof(header));
      p += kQHeaderBytes;
      for (int32_t b = 0; b < group_blocks_[size_t(g)]; ++b, p += 64 * Bits) {
        const int32_t* cols = index + start[g] + b * kQColBlock;
        for (int64_t i = 0; i < nr; ++i) {
          const uint8_t* row = s.codes + (r0 + i) * s.cols;
          for (int j = 0; j < kQColBlock; ++j)
            if (cols[j] >= 0) put_packed_code(p, Bits, int(i), j, row[cols[j]]);
        }
      }
    }
  }
}

QuantMatrixView PackedQuantMatrix::view() const {
  QuantMatrixView v;
  v.data = data_.get();
  v.rows = rows_;
  v.row_blocks = (rows_ + kQRowBlock - 1) / kQRowBlock;
  v.row_block_bytes = row_block_bytes_;
  v.k_pad = k_pad_;
  v.blocks = k_pad_ / kQColBlock;
  v.groups = groups();
  v.group_blocks = group_blocks_.data();
  v.bits = bits_;
  return v;
}

size_t PackedQuantMatrix::bytes() const { return data_bytes_ + col_index_.size() * 4; }

void PackedQuantMatrix::unpack(uint8_t* codes, uint16_t* scales, uint16_t* zeros) const {
  const QuantMatrixView v = view();
  std::vector<int32_t> index = col_index_;
  if (index.empty())
    for (int64_t p = 0; p < k_pad_; ++p) index.push_back(p < cols_ ? int32_t(p) : -1);
  for (int64_t r = 0; r < rows_; ++r) {
    const uint8_t* p = v.data + (r / kQRowBlock) * v.row_block_bytes;
    const int i = int(r % kQRowBlock);
    int64_t pos = 0;
    for (int64_t g = 0; g < v.groups; ++g) {
      std::memcpy(&scales[r * v.groups + g], p + 2 * i, 2);
      std::memcpy(&zeros[r * v.groups + g], p + 2 * (kQRowBlock + i), 2);
      p += kQHeaderBytes;
      for (int32_t b = 0; b < v.group_blocks[g]; ++b, p += 64 * bits_)
        for (int j = 0; j < kQColBlock; ++j, ++pos)
          if (index[size_t(pos)] >= 0)
            codes[r * cols_ + index[size_t(pos)]] = uint8_t(packed_code(p, bits_, i, j));
    }
  }
}

size_t PackedQuantMatrix::scratch_bytes(int64_t n) const {
  return ScratchLayout(n, k_pad_, k_pad_ / kQColBlock, groups()).total;
}

QuantActivationsView quantize_activations(const PackedQuantMatrix& W, const float* X, int64_t n,
                                          void* scratch, size_t scratch_bytes) {
  NIBBLE_CHECK(n >= 0, "qmatmul: negative token count ", n);
  NIBBLE_CHECK(scratch_bytes >= W.scratch_bytes(n) && (scratch || n == 0),
               "qmatmul: scratch of ", scratch_bytes, " bytes, ", W.scratch_bytes(n), " needed");
  const int64_t k_pad = W.k_pad(), blocks = k_pad / kQColBlock, groups = W.groups(),
                cols = W.cols();
  const ScratchLayout layout(n, k_pad, blocks, groups);
  uint8_t* base = reinterpret_cast<uint8_t*>(
      round_up(reinterpret_cast<uintptr_t>(scratch), kAlign));
  int8_t* q = reinterpret_cast<int8_t*>(base + layout.q);
  float* scale = reinterpret_cast<float*>(base + layout.scale);
  int32_t* sum = reinterpret_cast<int32_t*>(base + layout.sum);
  float* group_sum = reinterpret_cast<float*>(base + layout.group_sum);
  const QuantizeBlocksFn quantize = pick(kQuantize);
  const int32_t* index = W.col_index().empty() ? nullptr : W.col_index().data();
  const QuantMatrixView v = W.view();

  auto one_token = [&](int64_t t) {
    const float* x = X + t * cols;
    int8_t* tq = q + t * k_pad;
    float* ts = scale + t * blocks;
    int32_t* tsum = sum + t * blocks;
    alignas(64) float buffer[8 * kQColBlock];
    if (!index) {
      const int64_t full = cols / kQColBlock;
      quantize(x, full, tq, ts, tsum);
      for (int64_t b = full; b < blocks; ++b) {  // the padded tail
        for (int64_t j = 0; j < kQColBlock; ++j) {
          const int64_t c = b * kQColBlock + j;
          buffer[j] = c < cols ? x[c] : 0.0f;
        }
        quantize(buffer, 1, tq + b * kQColBlock, ts + b, tsum + b);
      }
    } else {
      for (int64_t b = 0; b < blocks; b += 8) {
        const int64_t nb = std::min<int64_t>(8, blocks - b);
        for (int64_t j = 0; j < nb * kQColBlock; ++j) {
          const int32_t c = index[b * kQColBlock + j];
          buffer[j] = c >= 0 ? x[c] : 0.0f;
        }
        quantize(buffer, nb, tq + b * kQColBlock, ts + b, tsum + b);
      }
    }
    float* gs = group_sum + t * groups;
    for (int64_t g = 0, b = 0; g < groups; ++g) {
      float acc = 0;
      for (int32_t i = 0; i < v.group_blocks[g]; ++i, ++b) acc += ts[b] * float(tsum[b]);
      gs[g] = acc;
    }
  };
  if (n * k_pad < (int64_t(1) << 16)) {
    for (int64_t t = 0; t < n; ++t) one_token(t);
  } else {
    parallel_for(n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) one_token(t);
    });
  }

  QuantActivationsView a;
  a.q = q;
  a.scale = scale;
  a.group_sum = group_sum;
  a.n = n;
  a.k_pad = k_pad;
  a.blocks = blocks;
  a.groups = groups;
  return a;
}

void qmatmul(const PackedQuantMatrix& W, const float* X, int64_t n, float* Y, void* scratch,
             size_t scratch_bytes) {
  NIBBLE_CHECK(n >= 0, "qmatmul: negative token count ", n);
  if (n == 0 || W.rows() == 0) return;
  NIBBLE_CHECK(X && Y, "qmatmul: null input or output for ", n, " tokens");
  const QuantActivationsView a = quantize_activations(W, X, n, scratch, scratch_bytes);
  const QuantMatrixView v = W.view();
  const QmatmulRowsFn kernel = pick(kQmatmul);
  for_row_blocks(v.row_blocks, 1, n * v.k_pad * kQRowBlock,
                 [&](int64_t rb0, int64_t rb1) { kernel(v, rb0, rb1, a, Y, v.rows); });
}

void qmatmul(const PackedQuantMatrix& W, const float* X, int64_t n, float* Y) {
  thread_local std::vector<uint8_t> scratch;
  const size_t need = W.scratch_bytes(n);
  if (scratch.size() < need) scratch.resize(need);
  qmatmul(W, X, n, Y, scratch.data(), scratch.size());
}

}  // namespace nibble::kernels
