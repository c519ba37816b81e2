#include "formats/gguf_model_writer.h"

#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_blocks.h"
#include "io/gguf_model.h"
#include "tokenizer/gguf_tokenizer.h"

namespace nibble::formats {

namespace {

constexpr const char* kRopeFreqs = "rope_freqs.weight";

struct ExportTensor {
  std::string hf_name, gguf_name;
  std::vector<int64_t> shape;  // row-major [out, in] or [n]
};

// general.architecture as convert_hf_to_gguf.py names it: Mistral is written
// as "llama"; Qwen2 keeps Hugging Face's rotary order and has q/k/v biases.
std::string gguf_architecture(const io::ModelSource& src) {
  const io::ModelConfig& c = src.config;
  if (c.model_type == "llama" || c.model_type == "mistral") {
    NIBBLE_CHECK(!c.attention_bias, src.path, ": attention biases cannot be written as a GGUF llama model");
    return "llama";
  }
  NIBBLE_CHECK(c.model_type == "qwen2", src.path, ": model_type '", c.model_type,
               "' cannot be written as GGUF yet (llama, mistral, qwen2)");
  NIBBLE_CHECK(c.rope_scaling.type != "llama3", src.path,
               ": rope_scaling 'llama3' has no GGUF form for qwen2 (llama.cpp reads rope_freqs only for llama)");
  return "qwen2";
}

std::vector<ExportTensor> export_tensors(const io::ModelSource& src) {
  const io::ModelConfig& c = src.config;
  std::vector<std::string> hf = {"model.embed_tokens.weight"};
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    hf.push_back(p + "input_layernorm.weight");
    for (const char* s : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}) {
      hf.push_back(p + s + ".weight");
      if (c.attention_bias) hf.push_back(p + s + ".bias");
    }
    for (const char* s : {"self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                          "mlp.down_proj"})
      hf.push_back(p + s + ".weight");
  }
  hf.push_back("model.norm.weight");
  if (src.weights->has("lm_head.weight")) hf.push_back("lm_head.weight");
  std::vector<ExportTensor> out;
  for (const std::string& name : hf) {
    const TensorView& v = src.weights->get(name);
    NIBBLE_CHECK(v.dtype == DType::F32 || v.dtype == DType::F16 || v.dtype == DType::BF16,
                 src.path, ": ", name, " has dtype ", dtype_name(v.dtype), ", expected a float type");
    out.push_back({name, *io::gguf_name_for(name), v.shape});
  }
  return out;
}

void add_model_metadata(const io::ModelSource& src, const std::string& arch, const GgufFileType& ftype,
                        io::GgufWriter& w) {
  const io::ModelConfig& c = src.config;
  using io::GgufValue;
  std::string name = src.directory;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (const size_t slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  const std::string k = arch + ".";
  w.add("general.architecture", GgufValue::string(arch));
  w.add("general.type", GgufValue::string("model"));
  w.add("general.name", GgufValue::string(name));
  // convert_hf_to_gguf.py's Llama class adds the vocabulary size and rotary width.
  if (arch == "llama") w.add(k + "vocab_size", GgufValue::uint32(uint32_t(c.vocab_size)));
  w.add(k + "context_length", GgufValue::uint32(uint32_t(c.max_position_embeddings)));
  w.add(k + "embedding_length", GgufValue::uint32(uint32_t(c.hidden_size)));
  w.add(k + "block_count", GgufValue::uint32(uint32_t(c.num_layers)));
  w.add(k + "feed_forward_length", GgufValue::uint32(uint32_t(c.intermediate_size)));
  if (arch == "llama") w.add(k + "rope.dimension_count", GgufValue::uint32(uint32_t(c.head_dim)));
  w.add(k + "attention.head_count", GgufValue::uint32(uint32_t(c.num_heads)));
  w.add(k + "attention.head_count_kv", GgufValue::uint32(uint32_t(c.num_kv_heads)));
  if (c.head_dim * c.num_heads != c.hidden_size) {
    w.add(k + "attention.key_length", GgufValue::uint32(uint32_t(c.head_dim)));
    w.add(k + "attention.value_length", GgufValue::uint32(uint32_t(c.head_dim)));
  }
  w.add(k + "attention.layer_norm_rms_epsilon", GgufValue::float32(float(c.rms_norm_eps)));
  w.add(k + "rope.freq_base", GgufValue::float32(float(c.rope_theta)));
  // "llama3" scaling has no key: the rope_freqs tensor carries it.
  if (c.rope_scaling.type == "linear") {
    w.add(k + "rope.scaling.type", GgufValue::string("linear"));
    w.add(k + "rope.scaling.factor", GgufValue::float32(float(c.rope_scaling.factor)));
  }
  w.add("general.file_type", GgufValue::uint32(uint32_t(ftype.llama_ftype)));
  w.add("general.quantization_version", GgufValue::uint32(2));
}

// The whole tensor as f32 (adjusted when asked), quantized row by row into `type` blocks.
std::vector<uint8_t> encode_tensor(const std::string& hf_name, const TensorView& v, io::GgmlType type,
                                   const float* importance, const GgufWeightAdjuster& adjust) {
  const int64_t cols = v.shape.back(), rows = v.numel() / cols;
  std::vector<float> values(static_cast<size_t>(v.numel()));
  convert_to_f32(v.dtype, v.data, values.data(), values.size());
  if (adjust && v.shape.size() == 2) adjust(hf_name, values.data(), rows, cols);
  const uint64_t row_bytes = gguf_row_bytes(type, cols);
  std::vector<uint8_t> out(static_cast<size_t>(row_bytes * uint64_t(rows)));
  parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quantize_row(type, &values[size_t(r * cols)], &out[size_t(uint64_t(r) * row_bytes)], cols, importance);
  });
  return out;
}

// Llama 3.1's rotary scaling as llama.cpp's converter stores it: one F32
// divisor per rotary frequency pair (rope_freqs.weight).
std::vector<float> llama3_rope_freqs(const io::ModelConfig& c) {
  std::vector<float> factors;
  for (int i = 0; i < c.head_dim / 2; ++i) factors.push_back(float(c.rope_scaling.llama3_divisor(c.rope_inv_freq(i))));
  return factors;
}

}  // namespace

void permute_rotary_rows(uint8_t* rows, int64_t n_rows, size_t row_bytes, int head_dim) {
  NIBBLE_CHECK(head_dim % 2 == 0 && n_rows % head_dim == 0, "rotary permutation: ", n_rows,
               " rows are not whole heads of ", head_dim);
  const int half = head_dim / 2;
  std::vector<uint8_t> head(row_bytes * size_t(head_dim));
  for (int64_t h = 0; h < n_rows / head_dim; ++h) {
    uint8_t* base = rows + size_t(h) * head_dim * row_bytes;
    std::memcpy(head.data(), base, head.size());
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j)
        std::memcpy(base + size_t(2 * i + j) * row_bytes, &head[size_t(j * half + i) * row_bytes], row_bytes);
  }
}

std::vector<std::string> gguf_export_tensor_names(const io::ModelSource& source) {
  std::vector<std::string> out;
  if (source.config.rope_scaling.type == "llama3") out.push_back(kRopeFreqs);
  for (const ExportTensor& t : export_tensors(source)) out.push_back(t.gguf_name);
  return out;
}

GgufExportSummary write_gguf_model(const io::ModelSource& src, const std::string& out_path,
                                   const GgufExportOptions& o) {
  NIBBLE_CHECK(o.file_type, "write_gguf_model: no file type");
  const io::ModelConfig& c = src.config;
  const std::string arch = gguf_architecture(src);
  NIBBLE_CHECK(c.rope_scaling.type.empty() || c.rope_scaling.type == "linear" || c.rope_scaling.type == "llama3",
               src.path, ": rope_scaling '", c.rope_scaling.type, "' cannot be written as GGUF yet (none, linear, llama3)");
  NIBBLE_CHECK(c.rope_scaling.freq_factors.empty() && !c.rope_interleaved, src.path,
               ": expected a Hugging Face model (rotary order, no rope_freqs)");
  io::GgufWriter w;
  add_model_metadata(src, arch, *o.file_type, w);
  tokenizer::add_gguf_tokenizer_metadata(src, w);

  GgufExportSummary summary;
  if (c.rope_scaling.type == "llama3") {
    // First, as the converter's extra tensors come before the model's.
    const std::vector<float> factors = llama3_rope_freqs(c);
    w.add_tensor_streamed(kRopeFreqs, io::GgmlType::F32, {int64_t(factors.size())},
                          [factors, &o](io::GgufDataSink& sink) {
                            sink.write(factors.data(), factors.size() * sizeof(float));
                            if (o.on_tensor) o.on_tensor(kRopeFreqs);
                          });
    summary.tensors_per_type["F32"]++;
    summary.tensor_count++;
  }
  for (const ExportTensor& t : export_tensors(src)) {
    const int n_dims = int(t.shape.size());
    const int64_t cols = t.shape.back(), rows = n_dims == 2 ? t.shape[0] : 1;
    const std::vector<float>* importance = o.importance ? o.importance(t.gguf_name) : nullptr;
    NIBBLE_CHECK(!importance || int64_t(importance->size()) == cols, "imatrix entry for ", t.gguf_name,
                 " has ", importance ? importance->size() : 0, " values, the tensor has ", cols, " columns");
    auto pre = o.precomputed.find(t.gguf_name);
    const io::GgmlType type = pre != o.precomputed.end()
                                  ? pre->second.type
                                  : gguf_tensor_type(*o.file_type, t.gguf_name, cols, n_dims, c, importance != nullptr);
    // llama.cpp rotates adjacent pairs in "llama" files: Q/K rows move.
    const bool rotary = arch == "llama" && (t.gguf_name.ends_with("attn_q.weight") || t.gguf_name.ends_with("attn_k.weight"));
    const uint64_t row_bytes = gguf_row_bytes(type, cols);
    if (pre != o.precomputed.end())
      NIBBLE_CHECK(pre->second.blocks.size() == row_bytes * uint64_t(rows), t.gguf_name,
                   ": precomputed blocks have ", pre->second.blocks.size(), " bytes, expected ",
                   row_bytes * uint64_t(rows));
    const TensorView& view = src.weights->get(t.hf_name);
    const GgufPrecomputedTensor* precomputed = pre != o.precomputed.end() ? &pre->second : nullptr;
    const int head_dim = c.head_dim;
    const std::string name = t.gguf_name, hf_name = t.hf_name;
    std::vector<int64_t> ne = {cols};
    if (n_dims == 2) ne.push_back(rows);
    w.add_tensor_streamed(name, type, ne, [=, &o](io::GgufDataSink& sink) {
      std::vector<uint8_t> bytes = precomputed ? precomputed->blocks
                                               : encode_tensor(hf_name, view, type,
                                                               importance ? importance->data() : nullptr,
                                                               o.adjust_weight);
      if (rotary) permute_rotary_rows(bytes.data(), rows, row_bytes, head_dim);
      sink.write(bytes.data(), bytes.size());
      if (o.on_tensor) o.on_tensor(name);
    });
    if (n_dims == 2) {
      summary.linear_bits += 8.0 * double(row_bytes) * double(rows);
      summary.linear_weights += double(rows) * double(cols);
    }
    summary.tensors_per_type[io::ggml_type_name(type)]++;
    summary.tensor_count++;
  }
  w.write(out_path);
  summary.file_bytes = w.file_size();
  return summary;
}

}  // namespace nibble::formats
