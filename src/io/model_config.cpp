#include "io/model_config.h"

#include <cmath>

#include "core/error.h"
#include "core/files.h"

namespace nibble::io {

using nlohmann::json;

namespace {

int get_int(const json& j, const char* key, const std::string& source, int fallback = -1,
            int max = 1 << 24) {
  if (!j.contains(key) || j[key].is_null()) {
    NIBBLE_CHECK(fallback >= 0, source, ": missing field '", key, "'");
    return fallback;
  }
  NIBBLE_CHECK(j[key].is_number_integer(), source, ": field '", key, "' must be an integer");
  const int64_t v = j[key].get<int64_t>();
  NIBBLE_CHECK(v > 0 && v <= max, source, ": field '", key, "' = ", v, " is out of range");
  return int(v);
}

double get_double(const json& j, const char* key, const std::string& source, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  NIBBLE_CHECK(j[key].is_number(), source, ": field '", key, "' must be a number");
  const double v = j[key].get<double>();
  NIBBLE_CHECK(v > 0 && v < 1e12, source, ": field '", key, "' = ", v, " is out of range");
  return v;
}

bool get_bool(const json& j, const char* key, const std::string& source, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  NIBBLE_CHECK(j[key].is_boolean(), source, ": field '", key, "' must be true or false");
  return j[key].get<bool>();
}

}  // namespace

double RopeScaling::llama3_divisor(double inv_freq) const {
  const double wavelen = 2 * M_PI / inv_freq;
  const double old_ctx = original_max_position_embeddings;
  if (wavelen < old_ctx / high_freq_factor) return 1.0;
  if (wavelen > old_ctx / low_freq_factor) return factor;
  const double smooth = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
  return 1.0 / ((1 - smooth) / factor + smooth);
}

double ModelConfig::rope_inv_freq(int i) const { return 1.0 / std::pow(rope_theta, 2.0 * i / head_dim); }

int64_t ModelConfig::parameter_count() const {
  const int64_t h = hidden_size, f = intermediate_size, v = vocab_size;
  int64_t per_layer = h * q_dim() + 2 * h * kv_dim() + q_dim() * h + 3 * h * f + 2 * h;
  if (attention_bias) per_layer += q_dim() + 2 * kv_dim();
  return v * h * (tie_word_embeddings ? 1 : 2) + num_layers * per_layer + h;
}

void validate_config(const ModelConfig& c, const std::string& source) {
  NIBBLE_CHECK(c.hidden_size > 0 && c.intermediate_size > 0 && c.num_layers > 0 &&
                   c.num_heads > 0 && c.num_kv_heads > 0 && c.head_dim > 0 && c.vocab_size > 0,
               source, ": sizes must be positive");
  NIBBLE_CHECK(c.num_heads % c.num_kv_heads == 0, source, ": num_attention_heads ", c.num_heads,
               " is not a multiple of num_key_value_heads ", c.num_kv_heads);
  NIBBLE_CHECK(c.head_dim % 2 == 0, source, ": head_dim ", c.head_dim, " must be even for RoPE");
  NIBBLE_CHECK(c.head_dim <= 1024, source, ": head_dim ", c.head_dim, " is out of range");
}

ModelConfig parse_hf_config(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  NIBBLE_CHECK(!j.is_discarded(), source, ": not valid JSON");
  NIBBLE_CHECK(j.is_object(), source, ": expected a JSON object");
  ModelConfig c;
  c.raw = j;
  NIBBLE_CHECK(j.contains("model_type") && j["model_type"].is_string(), source,
               ": missing field 'model_type'");
  c.model_type = j["model_type"].get<std::string>();
  NIBBLE_CHECK(c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2",
               source, ": unsupported architecture model_type '", c.model_type,
               "' (nibble runs llama, mistral and qwen2)");
  c.hidden_size = get_int(j, "hidden_size", source);
  c.intermediate_size = get_int(j, "intermediate_size", source);
  c.num_layers = get_int(j, "num_hidden_layers", source, -1, 1024);
  c.num_heads = get_int(j, "num_attention_heads", source, -1, 4096);
  c.num_kv_heads = get_int(j, "num_key_value_heads", source, c.num_heads, 4096);
  NIBBLE_CHECK(c.hidden_size % c.num_heads == 0 || j.contains("head_dim"), source,
               ": hidden_size ", c.hidden_size, " is not a multiple of num_attention_heads ",
               c.num_heads);
  c.head_dim = get_int(j, "head_dim", source, c.hidden_size / c.num_heads, 1024);
  c.vocab_size = get_int(j, "vocab_size", source);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", source, 2048);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", source, 1e-6);
  c.rope_theta = get_double(j, "rope_theta", source, 10000.0);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", source, false);
  c.attention_bias = get_bool(j, "attention_bias", source, c.model_type == "qwen2");
  NIBBLE_CHECK(!get_bool(j, "mlp_bias", source, false), source, ": mlp_bias is not supported");
  if (j.contains("hidden_act") && j["hidden_act"].is_string())
    NIBBLE_CHECK(j["hidden_act"] == "silu", source, ": hidden_act '",
                 j["hidden_act"].get<std::string>(), "' is not supported (expected silu)");
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const json& r = j["rope_scaling"];
    NIBBLE_CHECK(r.is_object(), source, ": rope_scaling must be an object or null");
    std::string type = r.value("rope_type", r.value("type", std::string()));
    NIBBLE_CHECK(type == "llama3" || type == "linear" || type == "default", source,
                 ": rope_scaling type '", type, "' is not supported (llama3, linear)");
    if (type != "default") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get_double(r, "factor", source, 1.0);
      c.rope_scaling.low_freq_factor = get_double(r, "low_freq_factor", source, 1.0);
      c.rope_scaling.high_freq_factor = get_double(r, "high_freq_factor", source, 4.0);
      c.rope_scaling.original_max_position_embeddings =
          get_int(r, "original_max_position_embeddings", source, 8192);
    }
  }
  if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer())
    c.bos_token_id = j["bos_token_id"].get<int>();
  if (j.contains("eos_token_id")) {
    const json& e = j["eos_token_id"];
    if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int>());
    if (e.is_array())
      for (const json& x : e)
        if (x.is_number_integer()) c.eos_token_ids.push_back(x.get<int>());
  }
  validate_config(c, source);
  return c;
}

ModelConfig read_hf_config(const std::string& path) {
  NIBBLE_CHECK(file_exists(path), path, ": missing (not a Hugging Face model directory?)");
  return parse_hf_config(read_text_file(path), path);
}

}  // namespace nibble::io
