#include "io/model_source.h"

#include "core/error.h"
#include "core/files.h"
#include "io/gguf_model.h"
#include "io/llama2c.h"

namespace nibble::io {

nlohmann::json read_optional_json(const std::string& path) {
  if (!file_exists(path)) return nullptr;
  auto j = nlohmann::json::parse(read_text_file(path), nullptr, false);
  NIBBLE_CHECK(!j.is_discarded(), path, ": not valid JSON");
  NIBBLE_CHECK(j.is_object(), path, ": expected a JSON object");
  return j;
}

namespace {
std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

ModelSource open_model(const std::string& path) {
  ModelSource src;
  src.path = path;
  if (is_directory(path)) {
    src.format = "hf";
    src.directory = path;
    src.config = read_hf_config(join_path(path, "config.json"));
    src.weights = std::make_shared<WeightStore>(open_hf_weights(path));
  } else if (ends_with(path, ".bin")) {
    src.format = "llama2c";
    src.directory = parent_directory(path);
    Llama2cModel m = read_llama2c(path);
    src.config = std::move(m.config);
    src.weights = std::make_shared<WeightStore>(std::move(m.weights));
  } else if (ends_with(path, ".gguf")) {
    return open_gguf_model(path);
  } else {
    NIBBLE_CHECK(file_exists(path), path, ": no such file or directory");
    fail(path, ": not a model (expected a Hugging Face directory, a .gguf file or a llama2.c .bin file)");
  }
  src.tokenizer_config = read_optional_json(join_path(src.directory, "tokenizer_config.json"));
  src.generation_config = read_optional_json(join_path(src.directory, "generation_config.json"));
  return src;
}

}  // namespace nibble::io
