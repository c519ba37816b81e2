#include "io/gguf_model.h"

#include <regex>

#include "core/error.h"

namespace nibble::io {

namespace {

// HF projection / norm names inside a decoder layer and their GGUF names.
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm", "attn_norm"},       {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q"},         {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},         {"self_attn.o_proj", "attn_output"},
    {"mlp.gate_proj", "ffn_gate"},          {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};
constexpr std::pair<const char*, const char*> kGlobalNames[] = {
    {"model.embed_tokens", "token_embd"}, {"model.norm", "output_norm"}, {"lm_head", "output"}};

int64_t positive_int(const GgufFile& f, const std::string& key) {
  const int64_t v = f.get_int(key);
  NIBBLE_CHECK(v > 0 && v < (int64_t(1) << 31), f.path(), ": ", key, " = ", v,
               " is out of range");
  return v;
}

int64_t optional_int(const GgufFile& f, const std::string& key, int64_t fallback) {
  return f.has(key) ? positive_int(f, key) : fallback;
}

}  // namespace

std::optional<std::string> gguf_name_for(const std::string& hf_name) {
  std::string base = hf_name, suffix;
  for (const char* s : {".weight", ".bias"})
    if (base.size() > std::string(s).size() && base.ends_with(s)) {
      suffix = s;
      base.resize(base.size() - suffix.size());
    }
  for (const auto& [hf, gguf] : kGlobalNames)
    if (base == hf) return gguf + suffix;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(base, m, layer)) return std::nullopt;
  for (const auto& [hf, gguf] : kLayerNames)
    if (m[2] == hf) return "blk." + m[1].str() + "." + gguf + suffix;
  return std::nullopt;
}

ModelConfig read_gguf_config(const GgufFile& f) {
  const std::string arch(f.get_string("general.architecture"));
  NIBBLE_CHECK(arch == "llama" || arch == "qwen2", f.path(), ": general.architecture '", arch,
               "' is not supported (llama, qwen2)");
  const std::string k = arch + ".";
  ModelConfig c;
  c.model_type = arch;
  c.num_layers = int(positive_int(f, k + "block_count"));
  c.hidden_size = int(positive_int(f, k + "embedding_length"));
  NIBBLE_CHECK(f.has(k + "feed_forward_length") && !f.get(k + "feed_forward_length").is_array(),
               f.path(), ": ", k, "feed_forward_length must be one integer (per-layer sizes are not supported)");
  c.intermediate_size = int(positive_int(f, k + "feed_forward_length"));
  c.num_heads = int(positive_int(f, k + "attention.head_count"));
  c.num_kv_heads = int(optional_int(f, k + "attention.head_count_kv", c.num_heads));
  NIBBLE_CHECK(c.hidden_size % c.num_heads == 0 || f.has(k + "attention.key_length"), f.path(),
               ": embedding_length ", c.hidden_size, " is not a multiple of head_count ", c.num_heads);
  c.head_dim = int(optional_int(f, k + "attention.key_length", c.hidden_size / c.num_heads));
  NIBBLE_CHECK(optional_int(f, k + "attention.value_length", c.head_dim) == c.head_dim, f.path(), ": ",
               k, "attention.value_length differs from key_length (not supported)");
  NIBBLE_CHECK(optional_int(f, k + "rope.dimension_count", c.head_dim) == c.head_dim, f.path(), ": ", k,
               "rope.dimension_count ", f.get_int(k + "rope.dimension_count"),
               " is not the head size ", c.head_dim, " (partial rotary is not supported)");
  c.max_position_embeddings = int(optional_int(f, k + "context_length", 2048));
  c.rms_norm_eps = f.get_float(k + "attention.layer_norm_rms_epsilon");
  c.rope_theta = f.has(k + "rope.freq_base") ? f.get_float(k + "rope.freq_base") : 10000.0;
  const std::string scaling = f.has(k + "rope.scaling.type")
                                  ? std::string(f.get_string(k + "rope.scaling.type"))
                                  : std::string("none");
  if (scaling == "linear") {
    c.rope_scaling.type = "linear";
    c.rope_scaling.factor = f.get_float(k + "rope.scaling.factor");
    NIBBLE_CHECK(c.rope_scaling.factor > 0, f.path(), ": ", k, "rope.scaling.factor must be positive");
  } else {
    NIBBLE_CHECK(scaling == "none", f.path(), ": ", k, "rope.scaling.type '", scaling,
                 "' is not supported (none, linear)");
  }
  if (const GgufTensorInfo* freqs = f.find_tensor("rope_freqs.weight")) {
    NIBBLE_CHECK(freqs->type == GgmlType::F32 && freqs->numel() == c.head_dim / 2, f.path(),
                 ": rope_freqs.weight must be F32 with ", c.head_dim / 2, " values");
    const float* v = reinterpret_cast<const float*>(freqs->data);
    c.rope_scaling.freq_factors.assign(v, v + c.head_dim / 2);
  }
  c.rope_interleaved = arch == "llama";
  c.llama_cpp_attention = true;
  c.attention_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  const GgufTensorInfo& embd = f.tensor("token_embd.weight");
  NIBBLE_CHECK(embd.ne.size() == 2 && embd.ne[0] == c.hidden_size, f.path(),
               ": token_embd.weight has ne ", embd.ne.size() ? embd.ne[0] : 0,
               " per row, expected embedding_length ", c.hidden_size);
  c.vocab_size = int(optional_int(f, k + "vocab_size", embd.ne[1]));
  NIBBLE_CHECK(c.vocab_size == embd.ne[1], f.path(), ": ", k, "vocab_size ", c.vocab_size,
               " but token_embd.weight has ", embd.ne[1], " rows");
  if (f.has("tokenizer.ggml.bos_token_id")) c.bos_token_id = int(f.get_int("tokenizer.ggml.bos_token_id"));
  if (f.has("tokenizer.ggml.eos_token_id"))
    c.eos_token_ids = {int(f.get_int("tokenizer.ggml.eos_token_id"))};
  c.raw = nlohmann::json::object();
  validate_config(c, f.path());
  return c;
}

ModelSource open_gguf_model(const std::string& path) {
  auto file = std::make_shared<const GgufFile>(path);
  ModelSource src;
  src.path = path;
  src.format = "gguf";
  const size_t slash = path.find_last_of('/');
  src.directory = slash == std::string::npos ? "." : path.substr(0, slash);
  src.config = read_gguf_config(*file);
  src.weights = std::make_shared<WeightStore>();
  // Reverse map: every GGUF tensor we know, by its HF name.
  for (const GgufTensorInfo& t : file->tensors()) {
    std::optional<DType> dtype;
    if (t.type == GgmlType::F32) dtype = DType::F32;
    if (t.type == GgmlType::F16) dtype = DType::F16;
    if (t.type == GgmlType::BF16) dtype = DType::BF16;
    if (!dtype) continue;  // block-quantized: read by the linear loader
    std::string hf;
    for (const auto& [h, g] : kGlobalNames)
      if (t.name == std::string(g) + ".weight") hf = std::string(h) + ".weight";
    static const std::regex layer(R"(blk\.(\d+)\.([a-z_]+)\.(weight|bias))");
    std::smatch m;
    if (hf.empty() && std::regex_match(t.name, m, layer))
      for (const auto& [h, g] : kLayerNames)
        if (m[2] == g) hf = "model.layers." + m[1].str() + "." + h + "." + m[3].str();
    if (hf.empty()) continue;  // rope_freqs and other extras, read from the file directly
    TensorView v;
    v.dtype = *dtype;
    v.shape = t.shape();
    v.data = t.data;
    v.nbytes = t.nbytes;
    src.weights->add_view(hf, std::move(v), file, path);
  }
  src.tokenizer_config = nlohmann::json::object();
  if (file->has("tokenizer.chat_template"))
    src.tokenizer_config["chat_template"] = std::string(file->get_string("tokenizer.chat_template"));
  // The chat template renders bos_token / eos_token as text.
  if (file->has("tokenizer.ggml.tokens") && file->get("tokenizer.ggml.tokens").array_type() == GgufValueType::STRING) {
    const auto& pieces = file->get_strings("tokenizer.ggml.tokens");
    auto piece = [&](int id) { return id >= 0 && size_t(id) < pieces.size() ? std::string(pieces[size_t(id)]) : ""; };
    if (src.config.bos_token_id >= 0) src.tokenizer_config["bos_token"] = piece(src.config.bos_token_id);
    if (!src.config.eos_token_ids.empty()) src.tokenizer_config["eos_token"] = piece(src.config.eos_token_ids[0]);
  }
  src.generation_config = nullptr;
  src.gguf = std::move(file);
  return src;
}

}  // namespace nibble::io
