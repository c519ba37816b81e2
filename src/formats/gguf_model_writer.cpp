#include "formats/gguf_model_writer.h"

#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_blocks.h"
#include "io/gguf_model.h"
#include "tokenizer/gguf_tokenizer.h"

namespace nibble::formats {

namespace {

struct ExportTensor {
  std::string hf_name, gguf_name;
  std::vector<int64_t> shape;  // row-major [out, in] or [n]
};

std::vector<ExportTensor> export_tensors(const io::ModelSource& src) {
  const io::ModelConfig& c = src.config;
  std::vector<std::string> hf = {"model.embed_tokens.weight"};
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* s : {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                          "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj",
                          "mlp.up_proj", "mlp.down_proj"})
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

void add_model_metadata(const io::ModelSource& src, const GgufFileType& ftype, io::GgufWriter& w) {
  const io::ModelConfig& c = src.config;
  using io::GgufValue;
  std::string name = src.directory;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (const size_t slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  w.add("general.architecture", GgufValue::string("llama"));
  w.add("general.type", GgufValue::string("model"));
  w.add("general.name", GgufValue::string(name));
  w.add("llama.vocab_size", GgufValue::uint32(uint32_t(c.vocab_size)));
  w.add("llama.context_length", GgufValue::uint32(uint32_t(c.max_position_embeddings)));
  w.add("llama.embedding_length", GgufValue::uint32(uint32_t(c.hidden_size)));
  w.add("llama.block_count", GgufValue::uint32(uint32_t(c.num_layers)));
  w.add("llama.feed_forward_length", GgufValue::uint32(uint32_t(c.intermediate_size)));
  w.add("llama.rope.dimension_count", GgufValue::uint32(uint32_t(c.head_dim)));
  w.add("llama.attention.head_count", GgufValue::uint32(uint32_t(c.num_heads)));
  w.add("llama.attention.head_count_kv", GgufValue::uint32(uint32_t(c.num_kv_heads)));
  if (c.head_dim * c.num_heads != c.hidden_size) {
    w.add("llama.attention.key_length", GgufValue::uint32(uint32_t(c.head_dim)));
    w.add("llama.attention.value_length", GgufValue::uint32(uint32_t(c.head_dim)));
  }
  w.add("llama.attention.layer_norm_rms_epsilon", GgufValue::float32(float(c.rms_norm_eps)));
  w.add("llama.rope.freq_base", GgufValue::float32(float(c.rope_theta)));
  if (c.rope_scaling.type == "linear") {
    w.add("llama.rope.scaling.type", GgufValue::string("linear"));
    w.add("llama.rope.scaling.factor", GgufValue::float32(float(c.rope_scaling.factor)));
  }
  w.add("general.file_type", GgufValue::uint32(uint32_t(ftype.llama_ftype)));
  w.add("general.quantization_version", GgufValue::uint32(2));
}

// The whole tensor as f32, quantized row by row into `type` blocks.
std::vector<uint8_t> encode_tensor(const TensorView& v, io::GgmlType type, const float* importance) {
  const int64_t cols = v.shape.back(), rows = v.numel() / cols;
  std::vector<float> values(static_cast<size_t>(v.numel()));
  convert_to_f32(v.dtype, v.data, values.data(), values.size());
  const uint64_t row_bytes = gguf_row_bytes(type, cols);
  std::vector<uint8_t> out(static_cast<size_t>(row_bytes * uint64_t(rows)));
  parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quantize_row(type, &values[size_t(r * cols)], &out[size_t(uint64_t(r) * row_bytes)], cols, importance);
  });
  return out;
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
  for (const ExportTensor& t : export_tensors(source)) out.push_back(t.gguf_name);
  return out;
}

GgufExportSummary write_gguf_model(const io::ModelSource& src, const std::string& out_path,
                                   const GgufExportOptions& o) {
  NIBBLE_CHECK(o.file_type, "write_gguf_model: no file type");
  const io::ModelConfig& c = src.config;
  NIBBLE_CHECK(c.model_type == "llama" || c.model_type == "mistral", src.path, ": model_type '",
               c.model_type, "' cannot be written as GGUF yet (llama, mistral)");
  NIBBLE_CHECK(!c.attention_bias, src.path, ": attention biases cannot be written as a GGUF llama model");
  NIBBLE_CHECK(c.rope_scaling.type.empty() || c.rope_scaling.type == "linear", src.path,
               ": rope_scaling '", c.rope_scaling.type, "' cannot be written as GGUF yet (none, linear)");
  NIBBLE_CHECK(!c.rope_interleaved, src.path, ": expected Hugging Face rotary order");
  io::GgufWriter w;
  add_model_metadata(src, *o.file_type, w);
  tokenizer::add_gguf_tokenizer_metadata(src, w);

  GgufExportSummary summary;
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
    const bool rotary = t.gguf_name.ends_with("attn_q.weight") || t.gguf_name.ends_with("attn_k.weight");
    const uint64_t row_bytes = gguf_row_bytes(type, cols);
    if (pre != o.precomputed.end())
      NIBBLE_CHECK(pre->second.blocks.size() == row_bytes * uint64_t(rows), t.gguf_name,
                   ": precomputed blocks have ", pre->second.blocks.size(), " bytes, expected ",
                   row_bytes * uint64_t(rows));
    const TensorView& view = src.weights->get(t.hf_name);
    const GgufPrecomputedTensor* precomputed = pre != o.precomputed.end() ? &pre->second : nullptr;
    const int head_dim = c.head_dim;
    const std::string name = t.gguf_name;
    w.add_tensor_streamed(name, type, {cols, rows}, [=, &o](io::GgufDataSink& sink) {
      std::vector<uint8_t> bytes =
          precomputed ? precomputed->blocks : encode_tensor(view, type, importance ? importance->data() : nullptr);
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
