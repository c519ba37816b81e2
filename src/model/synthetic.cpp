#include "model/synthetic.h"

#include <sys/stat.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "core/half.h"
#include "core/parallel.h"
#include "io/safetensors.h"

namespace nibble::model {

namespace {

io::ModelConfig llama_shape(int hidden, int intermediate, int layers, int heads, int kv_heads,
                            int vocab, int context, double theta) {
  io::ModelConfig c;
  c.hidden_size = hidden;
  c.intermediate_size = intermediate;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = context;
  c.rope_theta = theta;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// BF16 values close to N(0, std): the sum of four uniforms (Irwin-Hall),
// rescaled to unit variance. Rows are generated in parallel, each from its
// own stream, so the output depends on the seed only.
void fill_normal_bf16(uint8_t* dst, int64_t rows, int64_t cols, float std, uint64_t seed) {
  auto* out = reinterpret_cast<uint16_t*>(dst);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      uint64_t state = seed ^ (uint64_t(r) * 0x632be59bd9b4e019ull);
      for (int64_t c = 0; c < cols; ++c) {
        const uint64_t bits = splitmix64(state);
        float sum = 0;
        for (int k = 0; k < 4; ++k) sum += float((bits >> (16 * k)) & 0xffff) / 65535.0f;
        out[r * cols + c] = f32_to_bf16((sum - 2.0f) * std::sqrt(3.0f) * std);
      }
    }
  });
}

nlohmann::json hf_config_json(const io::ModelConfig& c) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", c.hidden_size},
          {"intermediate_size", c.intermediate_size},
          {"num_hidden_layers", c.num_layers},
          {"num_attention_heads", c.num_heads},
          {"num_key_value_heads", c.num_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_position_embeddings},
          {"rms_norm_eps", c.rms_norm_eps},
          {"rope_theta", c.rope_theta},
          {"rope_scaling", nullptr},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", c.tie_word_embeddings},
          {"attention_bias", false},
          {"bos_token_id", c.bos_token_id},
          {"eos_token_id", c.eos_token_ids.empty() ? 2 : c.eos_token_ids[0]},
          {"torch_dtype", "bfloat16"}};
}

}  // namespace

const std::vector<SyntheticShape>& synthetic_shapes() {
  static const std::vector<SyntheticShape> shapes = {
      {"tiny", "hidden 256, 4 layers, vocab 1024 (the bundled model's shape)",
       llama_shape(256, 768, 4, 4, 2, 1024, 512, 10000)},
      {"160m", "hidden 768, 12 layers, 12 heads, 4 KV heads, vocab 32000",
       llama_shape(768, 2048, 12, 12, 4, 32000, 2048, 10000)},
      {"1b", "TinyLlama-1.1B: hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000",
       llama_shape(2048, 5632, 22, 32, 4, 32000, 2048, 10000)},
      {"3b", "Llama-3.2-3B-like: hidden 3072, intermediate 8192, 28 layers, 24 heads, 8 KV heads, vocab 32000",
       llama_shape(3072, 8192, 28, 24, 8, 32000, 4096, 500000)},
      {"7b", "Llama-2-7B: hidden 4096, intermediate 11008, 32 layers, 32 heads, vocab 32000",
       llama_shape(4096, 11008, 32, 32, 32, 32000, 4096, 10000)},
  };
  return shapes;
}

const SyntheticShape& find_synthetic_shape(const std::string& name) {
  std::string names;
  for (const SyntheticShape& s : synthetic_shapes()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  fail("unknown shape '", name, "' (known: ", names, ")");
}

void write_synthetic_checkpoint(const io::ModelConfig& c, const std::string& dir, uint64_t seed) {
  if (!is_directory(dir))
    NIBBLE_CHECK(::mkdir(dir.c_str(), 0755) == 0, dir, ": cannot create directory: ",
                 std::strerror(errno));
  io::SafetensorsWriter writer;
  uint64_t stream = seed * 1000003ull;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    const uint64_t s = ++stream;
    writer.add_lazy(name, DType::BF16, {rows, cols},
                    [=](uint8_t* dst) { fill_normal_bf16(dst, rows, cols, 0.02f, s); });
  };
  auto ones = [&](const std::string& name, int64_t n) {
    writer.add_lazy(name, DType::BF16, {n}, [=](uint8_t* dst) {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(1.0f);
    });
  };
  const int64_t h = c.hidden_size, f = c.intermediate_size, qd = c.q_dim(), kvd = c.kv_dim();
  matrix("model.embed_tokens.weight", c.vocab_size, h);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    ones(p + "input_layernorm.weight", h);
    ones(p + "post_attention_layernorm.weight", h);
    matrix(p + "self_attn.q_proj.weight", qd, h);
    matrix(p + "self_attn.k_proj.weight", kvd, h);
    matrix(p + "self_attn.v_proj.weight", kvd, h);
    matrix(p + "self_attn.o_proj.weight", h, qd);
    matrix(p + "mlp.gate_proj.weight", f, h);
    matrix(p + "mlp.up_proj.weight", f, h);
    matrix(p + "mlp.down_proj.weight", h, f);
  }
  ones("model.norm.weight", h);
  if (!c.tie_word_embeddings) matrix("lm_head.weight", c.vocab_size, h);
  writer.set_metadata("format", "pt");
  writer.write_sharded(dir, size_t(4) << 30);
  write_text_file_atomically(join_path(dir, "generation_config.json"),
                             nlohmann::json{{"bos_token_id", 1}, {"eos_token_id", 2}}.dump(2));
  // config.json last: a directory with a config is complete.
  write_text_file_atomically(join_path(dir, "config.json"), hf_config_json(c).dump(2));
}

}  // namespace nibble::model
