// GPTQ checkpoints in the AutoGPTQ/GPTQModel layout (specs/gptq.md §6–§7),
// written layer by layer and resumably by formats/checkpoint_writer.h:
// qweight/qzeros/scales/g_idx per linear, quantize_config.json, and
// quantization_config in config.json. Linears whose in/out features are not
// multiples of 32 cannot be packed (the CLI refuses them).
// With lm_head_bits, lm_head is quantized too ("lm_head": true), at its own
// bit width when that differs from the layers' — declared the way GPTQModel
// and vLLM read per-module overrides: "dynamic": {"+:lm_head": {"bits": 8}}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "formats/checkpoint_writer.h"
#include "formats/gptq_codec.h"

namespace nibble::formats {

struct GptqExportConfig {
  int bits = 4;
  int group_size = 128;  // -1 per-channel
  bool symmetric = true;
  bool desc_act = false;
  bool static_groups = false;
  double damp = 0.01;
  int lm_head_bits = 0;  // 0: lm_head stays dense; else quantized (RTN) at these bits
  std::string method = "gptq";        // what produced the codes: gptq, rtn, awq, awq+gptq
  nlohmann::json extra = nlohmann::json::object();  // e.g. calibration description
};

// The GPTQ layout as a LinearCodec: symmetric checkpoints use
// checkpoint_format "gptq" (zeros stored minus one), asymmetric ones "gptq_v2".
class GptqLinearCodec : public LinearCodec {
 public:
  explicit GptqLinearCodec(GptqExportConfig config) : config_(std::move(config)) {}
  nlohmann::json quantization_config() const override;
  std::string config_file_name() const override { return "quantize_config.json"; }
  std::vector<std::string> suffixes() const override { return {".qweight", ".qzeros", ".scales", ".g_idx"}; }
  void encode(const std::string& prefix, const quant::GptqOutput& q, io::SafetensorsWriter& out) const override;
  quant::GptqOutput decode(const std::string& prefix, const io::SafetensorsFile& in) const override;
  double stored_bits(int64_t rows, int64_t cols, int64_t groups) const override;

 private:
  ZeroFormat zero_format() const { return config_.symmetric ? ZeroFormat::v1 : ZeroFormat::v2; }
  int bits_of(const std::string& prefix) const {
    return prefix == "lm_head" && config_.lm_head_bits != 0 ? config_.lm_head_bits : config_.bits;
  }
  GptqExportConfig config_;
};

class GptqCheckpointWriter : public CheckpointWriter {
 public:
  GptqCheckpointWriter(const io::ModelSource& source, std::string out_dir, GptqExportConfig config,
                       bool resume)
      : CheckpointWriter(source, std::move(out_dir), std::make_unique<GptqLinearCodec>(config),
                         config.extra, resume) {}
};

// True if a linear of this shape is quantized in a GPTQ export.
bool gptq_exportable(int64_t in_features, int64_t out_features);

}  // namespace nibble::formats
