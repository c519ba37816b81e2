// AutoAWQ checkpoints in the GEMM layout (specs/awq.md §8): qweight/qzeros/
// scales per linear (formats/awq_codec.h), quantization_config in
// config.json as AutoAWQ writes it for transformers and vLLM
// (quant_method "awq", version "gemm"), and AutoAWQ's own quant_config.json.
// Written layer by layer and resumably by formats/checkpoint_writer.h. The
// norms carry AWQ's folded scales, so they differ from the source's.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "formats/awq_codec.h"
#include "formats/checkpoint_writer.h"

namespace nibble::formats {

struct AwqExportConfig {
  int group_size = 128;
  nlohmann::json extra = nlohmann::json::object();  // how the codes were made
};

class AwqLinearCodec : public LinearCodec {
 public:
  explicit AwqLinearCodec(AwqExportConfig config) : config_(std::move(config)) {}
  nlohmann::json quantization_config() const override;
  std::string config_file_name() const override { return "quant_config.json"; }
  nlohmann::json config_file() const override;
  std::vector<std::string> suffixes() const override { return {".qweight", ".qzeros", ".scales"}; }
  void encode(const std::string& prefix, const quant::GptqOutput& q, io::SafetensorsWriter& out) const override;
  quant::GptqOutput decode(const std::string& prefix, const io::SafetensorsFile& in) const override;
  double stored_bits(int64_t rows, int64_t cols, int64_t groups) const override;

 private:
  AwqExportConfig config_;
};

class AwqCheckpointWriter : public CheckpointWriter {
 public:
  AwqCheckpointWriter(const io::ModelSource& source, std::string out_dir, AwqExportConfig config,
                      bool resume)
      : CheckpointWriter(source, std::move(out_dir), std::make_unique<AwqLinearCodec>(config),
                         config.extra, resume) {}
};

}  // namespace nibble::formats
