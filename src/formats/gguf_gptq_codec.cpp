#include "formats/gguf_gptq_codec.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "formats/gguf_blocks.h"

namespace nibble::formats {

quant::GptqOptions gptq_options_for_gguf(io::GgmlType type) {
  NIBBLE_CHECK(type == GgmlType::Q4_0 || type == GgmlType::Q4_1 || type == GgmlType::Q8_0,
               "GPTQ codes can be stored as Q4_0, Q4_1 or Q8_0, not ", io::ggml_type_name(type));
  quant::GptqOptions g;
  g.bits = type == GgmlType::Q8_0 ? 8 : 4;
  g.group_size = kernels::kQK;
  g.symmetric = type != GgmlType::Q4_1;
  return g;
}

GgufPrecomputedTensor encode_gptq_as_gguf(const quant::GptqOutput& q, io::GgmlType type,
                                          const std::string& name) {
  const quant::GptqOptions g = gptq_options_for_gguf(type);
  const int64_t groups = q.cols / kernels::kQK;
  NIBBLE_CHECK(q.cols % kernels::kQK == 0 && q.groups == groups, name, ": GPTQ result has ", q.groups,
               " groups over ", q.cols, " columns, expected groups of 32");
  for (int64_t c = 0; c < q.cols && !q.g_idx.empty(); ++c)
    NIBBLE_CHECK(q.g_idx[size_t(c)] == c / kernels::kQK, name, ": act-order groups cannot be stored in GGUF blocks");
  const float sym_zero = float(1 << (g.bits - 1));
  GgufPrecomputedTensor out{type, std::vector<uint8_t>(static_cast<size_t>(gguf_row_bytes(type, q.cols) * uint64_t(q.rows)))};
  uint8_t* dst = out.blocks.data();
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t b = 0; b < groups; ++b) {
      const float scale = q.scales[size_t(r * groups + b)], zero = q.zeros[size_t(r * groups + b)];
      NIBBLE_CHECK(g.symmetric ? zero == sym_zero : true, name, ": zero ", zero, " in row ", r,
                   " is not the symmetric zero ", sym_zero);
      const uint8_t* codes = &q.codes[size_t(r * q.cols + b * kernels::kQK)];
      if (type == GgmlType::Q8_0) {
        BlockQ8_0 blk;
        blk.d = f32_to_f16(scale);
        for (int j = 0; j < kernels::kQK; ++j) blk.qs[j] = int8_t(int(codes[j]) - 128);
        std::memcpy(dst, &blk, sizeof blk);
        dst += sizeof blk;
        continue;
      }
      uint8_t qs[16];
      for (int j = 0; j < 16; ++j) qs[j] = uint8_t((codes[j] & 15) | (codes[j + 16] << 4));
      if (type == GgmlType::Q4_0) {
        BlockQ4_0 blk;
        blk.d = f32_to_f16(scale);
        std::memcpy(blk.qs, qs, 16);
        std::memcpy(dst, &blk, sizeof blk);
        dst += sizeof blk;
      } else {
        BlockQ4_1 blk;
        blk.d = f32_to_f16(scale);
        blk.m = f32_to_f16(-zero * scale);
        std::memcpy(blk.qs, qs, 16);
        std::memcpy(dst, &blk, sizeof blk);
        dst += sizeof blk;
      }
    }
  return out;
}

}  // namespace nibble::formats
