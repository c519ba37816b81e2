// nibble inspect: what a model is made of — config, tensors, dtypes, sizes.
#include <cstdio>
#include <map>

#include "cli/verbs.h"
#include "io/model_source.h"

namespace nibble::cli {

namespace {
std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}
}  // namespace

void add_inspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto list_tensors = std::make_shared<bool>(true);
  CLI::App* verb = app.add_subcommand("inspect", "print a model's config, tensors and sizes");
  verb->add_option("model", *path, "model directory or file")->required();
  verb->add_flag("!--no-tensors", *list_tensors, "omit the per-tensor listing");
  verb->callback([path, list_tensors] {
    const io::ModelSource src = io::open_model(*path);
    const io::ModelConfig& c = src.config;
    std::printf("model: %s (%s)\n", path->c_str(), src.format.c_str());
    std::printf("architecture: %s, %d layers, hidden %d, intermediate %d\n", c.model_type.c_str(),
                c.num_layers, c.hidden_size, c.intermediate_size);
    std::printf("attention: %d heads x %d, %d KV heads, rope theta %g%s%s\n", c.num_heads,
                c.head_dim, c.num_kv_heads, c.rope_theta,
                c.rope_scaling.type.empty() ? "" : (", scaling " + c.rope_scaling.type).c_str(),
                c.rope_interleaved ? ", interleaved pairs" : "");
    std::printf("vocabulary: %d, context: %d, tied embeddings: %s, qkv bias: %s\n", c.vocab_size,
                c.max_position_embeddings, c.tie_word_embeddings ? "yes" : "no",
                c.attention_bias ? "yes" : "no");
    std::map<std::string, std::pair<int64_t, size_t>> by_dtype;
    int64_t params = 0;
    for (const std::string& name : src.weights->names()) {
      const TensorView& t = src.weights->get(name);
      params += t.numel();
      auto& [count, bytes] = by_dtype[std::string(dtype_name(t.dtype))];
      count += t.numel();
      bytes += t.nbytes;
      if (*list_tensors)
        std::printf("  %-56s %-5s %s\n", name.c_str(), std::string(dtype_name(t.dtype)).c_str(),
                    t.shape_string().c_str());
    }
    std::printf("tensors: %zu, parameters: %lld (%.2fM)\n", src.weights->names().size(),
                (long long)params, params / 1e6);
    for (const auto& [dtype, cb] : by_dtype)
      std::printf("  %s: %lld elements, %s\n", dtype.c_str(), (long long)cb.first,
                  human_bytes(double(cb.second)).c_str());
    std::printf("bytes: %s (%zu)\n", human_bytes(double(src.weights->total_bytes())).c_str(),
                src.weights->total_bytes());
  });
}

}  // namespace nibble::cli
