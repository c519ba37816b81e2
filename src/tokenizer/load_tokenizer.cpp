#include "tokenizer/load_tokenizer.h"

#include "core/error.h"
#include "core/files.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace nibble::tokenizer {

namespace {
bool config_flag(const nlohmann::json& cfg, const char* key, bool fallback) {
  if (cfg.is_object() && cfg.contains(key) && cfg[key].is_boolean()) return cfg[key].get<bool>();
  return fallback;
}

void add_eos_ids(Tokenizer& tok, const nlohmann::json& value) {
  if (value.is_number_integer()) tok.add_eos_id(value.get<int>());
  if (value.is_array())
    for (const auto& v : value)
      if (v.is_number_integer()) tok.add_eos_id(v.get<int>());
}
}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const io::ModelSource& source) {
  const std::string spm = join_path(source.directory, "tokenizer.model");
  const std::string hf = join_path(source.directory, "tokenizer.json");
  std::unique_ptr<Tokenizer> tok;
  if (source.gguf) {
    tok = load_gguf_tokenizer(*source.gguf);
  } else if (file_exists(hf)) {
    tok = load_hf_tokenizer(hf, source.tokenizer_config);
  } else if (file_exists(spm)) {
    SpecialTokenRules rules;
    rules.add_bos = config_flag(source.tokenizer_config, "add_bos_token", true);
    rules.add_eos = config_flag(source.tokenizer_config, "add_eos_token", false);
    tok = std::make_unique<SentencePieceTokenizer>(spm, rules);
  } else {
    fail(source.directory, ": no tokenizer (expected tokenizer.json or tokenizer.model)");
  }
  for (int id : source.config.eos_token_ids) tok->add_eos_id(id);
  if (source.generation_config.is_object() && source.generation_config.contains("eos_token_id"))
    add_eos_ids(*tok, source.generation_config["eos_token_id"]);
  return tok;
}

}  // namespace nibble::tokenizer
