// Writes a GPTQ checkpoint in the AutoGPTQ/GPTQModel layout (specs/gptq.md
// §6–§7) one decoder layer at a time, resumably:
//   * each finished layer goes to OUT/.partial/layer-NNNN.safetensors
//     (written atomically), so a killed run resumes at the first missing one;
//   * OUT/.partial/journal.json records the source and options, and a
//     resume with different ones is refused;
//   * finish() assembles model.safetensors (or shards + index), copies the
//     tokenizer files, writes quantize_config.json and, last, config.json
//     with quantization_config: the directory only looks complete when it is.
// Linears whose in/out features are not multiples of 32 cannot be packed and
// are kept unquantized in the source dtype (reported in the log).
// With lm_head_bits, lm_head is quantized too ("lm_head": true), at its own
// bit width when that differs from the layers' — declared the way GPTQModel
// and vLLM read per-module overrides: "dynamic": {"+:lm_head": {"bits": 8}}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "formats/gptq_codec.h"
#include "io/model_source.h"
#include "quant/layer_pipeline.h"

namespace nibble::formats {

struct GptqExportConfig {
  int bits = 4;
  int group_size = 128;  // -1 per-channel
  bool symmetric = true;
  bool desc_act = false;
  bool static_groups = false;
  double damp = 0.01;
  int lm_head_bits = 0;  // 0: lm_head stays dense; else quantized (RTN) at these bits
  std::string method = "gptq";        // what produced the codes: gptq, rtn, awq+gptq
  nlohmann::json extra = nlohmann::json::object();  // e.g. calibration description
};

class GptqCheckpointWriter {
 public:
  GptqCheckpointWriter(const io::ModelSource& source, std::string out_dir, GptqExportConfig config,
                       bool resume);

  int layers_done() const { return layers_done_; }
  void write_layer(const quant::LayerResult& layer);
  quant::LayerResult read_layer(int layer) const;  // a finished layer, for replay
  // The quantized lm_head (config.lm_head_bits), written like a layer.
  bool has_lm_head() const;
  void write_lm_head(const quant::GptqOutput& lm_head);
  // Returns total bytes of the written weights.
  size_t finish(size_t max_shard_bytes = size_t(4) << 30);

  nlohmann::json quantization_config() const;

 private:
  std::string partial_path(int layer) const;
  std::string lm_head_path() const;
  const io::ModelSource& source_;
  std::string out_, partial_;
  GptqExportConfig config_;
  int layers_done_ = 0;
};

// True if the linear `prefix` ("model.layers.0.mlp.up_proj") of this shape
// is quantized in a GPTQ export.
bool gptq_exportable(int64_t in_features, int64_t out_features);

}  // namespace nibble::formats
