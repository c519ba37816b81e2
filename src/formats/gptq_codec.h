// GPTQ checkpoint tensors (specs/gptq.md §6–§8) ⇄ quantized linears.
// Per linear with K inputs, N outputs, G groups and b bits:
//   qweight int32 [K·b/32, N]   codes packed along K
//   qzeros  int32 [G, N·b/32]   zero points packed along N; v1 stores z − 1
//   scales  fp16  [G, N]
//   g_idx   int32 [K]           group of each input
// K and N must be multiples of 32 (AutoGPTQ's packing assumes it); layers
// that are not stay unquantized (see formats/gptq_checkpoint.h).
#pragma once

#include <string>

#include "core/tensor_view.h"
#include "quant/gptq.h"

namespace nibble::formats {

enum class ZeroFormat {
  v1,  // "gptq": fields hold (z − 1) mod 2^b — AutoGPTQ, vLLM, transformers
  v2,  // "gptq_v2": fields hold z
};

struct GptqTensors {
  std::vector<int32_t> qweight, qzeros, g_idx;
  std::vector<uint16_t> scales;  // fp16 bits
  int64_t k = 0, n = 0, groups = 0;
  int bits = 0;
};

bool gptq_packable(int64_t in_features, int64_t out_features);
GptqTensors encode_gptq(const quant::GptqOutput& q, int bits, ZeroFormat zeros);

// Reads one linear's tensors. `masked_v1` says the v1 writer masked z − 1
// (nibble, GPTQModel ≥ 0.9), so an all-ones field means z = 0; otherwise such
// a field is AutoGPTQ's corrupted asymmetric zero and is refused.
quant::GptqOutput decode_gptq(const std::string& prefix, const TensorView& qweight,
                              const TensorView& qzeros, const TensorView& scales,
                              const TensorView* g_idx, int bits, ZeroFormat zeros, bool masked_v1);

}  // namespace nibble::formats
