#include "io/hf_directory.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace nibble::io {

namespace {
const char* const kCopiedFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                    "special_tokens_map.json", "generation_config.json",
                                    "added_tokens.json"};
}

void check_new_hf_directory(const std::string& out) {
  NIBBLE_CHECK(!file_exists(join_path(out, "config.json")), out,
               ": already holds a checkpoint (config.json); choose another -o or delete it");
}

void write_hf_directory(const ModelSource& source, const SafetensorsWriter& tensors,
                        const nlohmann::json& config, const std::string& out,
                        size_t max_shard_bytes) {
  check_new_hf_directory(out);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  NIBBLE_CHECK(!ec, out, ": cannot create directory: ", ec.message());
  tensors.write_sharded(out, max_shard_bytes);
  for (const char* file : kCopiedFiles) {
    const std::string from = join_path(source.directory, file);
    if (file_exists(from)) write_text_file_atomically(join_path(out, file), read_text_file(from));
  }
  write_text_file_atomically(join_path(out, "config.json"), config.dump(2));
}

}  // namespace nibble::io
