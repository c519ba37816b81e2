// Writes a quantized Hugging Face checkpoint one decoder layer at a time,
// resumably, for any layout of quantized linears (a LinearCodec: GPTQ in
// formats/gptq_checkpoint.h, AutoAWQ GEMM in formats/awq_checkpoint.h):
//   * each finished layer goes to OUT/.partial/layer-NNNN.safetensors
//     (written atomically), so a killed run resumes at the first missing one;
//   * OUT/.partial/journal.json records the source and options, and a
//     resume with different ones is refused;
//   * finish() assembles model.safetensors (or shards + index), copies the
//     tokenizer files, writes the format's quantization config file and,
//     last, config.json with quantization_config: the directory only looks
//     complete when it is.
// Tensors a layer transform changed (AWQ's folded norms) are stored in f32
// in place of the source's; everything else keeps its name and dtype.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "io/safetensors.h"
#include "quant/layer_pipeline.h"

namespace nibble::formats {

// How one checkpoint layout stores a quantized linear.
class LinearCodec {
 public:
  virtual ~LinearCodec() = default;
  // config.json's quantization_config (also the journal's record of the options).
  virtual nlohmann::json quantization_config() const = 0;
  // The separate config file loaders read ("quantize_config.json", "quant_config.json") and its contents.
  virtual std::string config_file_name() const = 0;
  virtual nlohmann::json config_file() const { return quantization_config(); }
  // The tensor name suffixes of one linear; the first marks that a prefix is quantized.
  virtual std::vector<std::string> suffixes() const = 0;
  virtual void encode(const std::string& prefix, const quant::GptqOutput& q,
                      io::SafetensorsWriter& out) const = 0;
  virtual quant::GptqOutput decode(const std::string& prefix, const io::SafetensorsFile& in) const = 0;
  // Bits the layout stores for a linear of this shape (codes, scales, zeros, indices).
  virtual double stored_bits(int64_t rows, int64_t cols, int64_t groups) const = 0;
};

class CheckpointWriter {
 public:
  // `extra` is recorded under quantization_config.nibble (how the codes were made).
  CheckpointWriter(const io::ModelSource& source, std::string out_dir,
                   std::unique_ptr<const LinearCodec> codec, nlohmann::json extra, bool resume);
  virtual ~CheckpointWriter() = default;

  int layers_done() const { return layers_done_; }
  void write_layer(const quant::LayerResult& layer);
  quant::LayerResult read_layer(int layer) const;  // a finished layer, for replay
  // A quantized lm_head, stored like a layer; finish() then unties it from
  // the embeddings (tie_word_embeddings false).
  bool has_lm_head() const;
  void write_lm_head(const quant::GptqOutput& lm_head);
  // Returns total bytes of the written weights.
  size_t finish(size_t max_shard_bytes = size_t(4) << 30);

  nlohmann::json quantization_config() const { return codec_->quantization_config(); }
  const LinearCodec& codec() const { return *codec_; }

 private:
  std::string partial_path(int layer) const;
  std::string lm_head_path() const;
  const io::ModelSource& source_;
  std::string out_, partial_;
  std::unique_ptr<const LinearCodec> codec_;
  nlohmann::json extra_;
  int layers_done_ = 0;
};

}  // namespace nibble::formats
