// add_gguf_tokenizer_metadata: a Hugging Face tokenizer as GGUF
// tokenizer.ggml.* metadata, following convert_hf_to_gguf.py so that
// llama.cpp tokenizes the file as the model's own tokenizer does.
#include <sentencepiece_processor.h>

#include <algorithm>

#include "core/error.h"
#include "core/files.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/gguf_pre_tokenizer.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/hf_special_tokens.h"

namespace nibble::tokenizer {

namespace {

// Added tokens convert_hf_to_gguf.py makes control tokens even when not marked special.
bool looks_special(const std::string& t) {
  const auto ends_with = [&](std::string_view s) { return t.size() >= s.size() && t.substr(t.size() - s.size()) == s; };
  return t == "<pad>" || t == "<mask>" || (t.rfind("<|", 0) == 0 && ends_with("|>"));
}

// The vocabulary size the model's embedding has (config.json), at least `n`.
int padded_vocab_size(const io::ModelSource& source, int n) { return std::max(n, source.config.vocab_size); }

// A vocabulary of `size` placeholders, as convert_hf_to_gguf.py starts one.
void init_placeholders(GgufVocab& v, int size, bool with_scores) {
  v.tokens.resize(size);
  for (int i = 0; i < size; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  v.types.assign(size, GgufTokenType::Unused);
  if (with_scores) v.scores.assign(size, -10000.0f);
}

int find_token(const GgufVocab& v, const std::string& text) {
  const auto it = std::find(v.tokens.begin(), v.tokens.end(), text);
  return it == v.tokens.end() ? -1 : static_cast<int>(it - v.tokens.begin());
}

// BOS/EOS/UNK/PAD ids: tokenizer_config.json's token texts, else config.json's ids.
void set_special_ids(const io::ModelSource& source, GgufVocab& v) {
  const auto id_of = [&](const char* key) {
    const std::string text = special_token_text(source.tokenizer_config, key);
    return text.empty() ? -1 : find_token(v, text);
  };
  v.bos_id = id_of("bos_token");
  v.eos_id = id_of("eos_token");
  v.unk_id = id_of("unk_token");
  v.pad_id = id_of("pad_token");
  const int n = static_cast<int>(v.tokens.size());
  if (v.bos_id < 0 && source.config.bos_token_id >= 0 && source.config.bos_token_id < n)
    v.bos_id = source.config.bos_token_id;
  if (v.eos_id < 0 && !source.config.eos_token_ids.empty() && source.config.eos_token_ids[0] >= 0 &&
      source.config.eos_token_ids[0] < n)
    v.eos_id = source.config.eos_token_ids[0];
}

// tokenizer_config.json's "chat_template" (a string, or the "default" of a
// list of named templates), else a chat_template.jinja file; "" if none.
std::string raw_chat_template(const io::ModelSource& source) {
  const nlohmann::json& cfg = source.tokenizer_config;
  if (cfg.is_object() && cfg.contains("chat_template")) {
    const auto& t = cfg["chat_template"];
    if (t.is_string()) return t.get<std::string>();
    if (t.is_array())
      for (const auto& named : t)
        if (named.is_object() && named.value("name", std::string()) == "default" && named.contains("template") &&
            named["template"].is_string())
          return named["template"].get<std::string>();
  }
  const std::string jinja = join_path(source.directory, "chat_template.jinja");
  return file_exists(jinja) ? read_text_file(jinja) : "";
}

GgufTokenType added_token_type(const std::string& content, bool special) {
  return (special || looks_special(content)) ? GgufTokenType::Control : GgufTokenType::UserDefined;
}

GgufVocab sentencepiece_vocab(const io::ModelSource& source, const std::string& path) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(path);
  NIBBLE_CHECK(status.ok(), path, ": not a SentencePiece model (", status.ToString(), ")");
  GgufVocab v;
  v.model = "llama";
  v.pre = "default";
  const int n_sp = sp.GetPieceSize();
  const int size = source.config.vocab_size > 0 ? source.config.vocab_size : n_sp;
  init_placeholders(v, size, true);
  for (int id = 0; id < std::min(n_sp, size); ++id) {
    v.tokens[id] = sp.IdToPiece(id);
    v.scores[id] = sp.GetScore(id);
    v.types[id] = sp.IsUnknown(id)   ? GgufTokenType::Unknown
                  : sp.IsControl(id) ? GgufTokenType::Control
                  : sp.IsUnused(id)  ? GgufTokenType::Unused
                  : sp.IsByte(id)    ? GgufTokenType::Byte
                                     : GgufTokenType::Normal;
  }
  const auto set_added = [&](int id, const std::string& content, GgufTokenType type) {
    if (id < 0 || id >= size) return;
    v.tokens[id] = content;
    v.scores[id] = -1000.0f;
    v.types[id] = type;
  };
  const nlohmann::json added = io::read_optional_json(join_path(source.directory, "added_tokens.json"));
  if (added.is_object())
    for (const auto& [content, id] : added.items())
      if (id.is_number_integer()) set_added(id.get<int>(), content, GgufTokenType::UserDefined);
  const nlohmann::json& cfg = source.tokenizer_config;
  if (cfg.is_object() && cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
    for (const auto& [key, token] : cfg["added_tokens_decoder"].items()) {
      if (!token.is_object() || !token.contains("content") || !token["content"].is_string()) continue;
      if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string content = token["content"].get<std::string>();
      set_added(std::stoi(key), content, added_token_type(content, token.value("special", false)));
    }
  }
  set_special_ids(source, v);
  const auto flag = [&](const char* key, bool fallback) {
    return (cfg.is_object() && cfg.contains(key) && cfg[key].is_boolean()) ? cfg[key].get<bool>() : fallback;
  };
  v.add_bos = flag("add_bos_token", true) && v.bos_id >= 0;
  v.add_eos = flag("add_eos_token", false) && v.eos_id >= 0;
  return v;
}

std::string merge_text(const nlohmann::json& m, const std::string& where, size_t rank) {
  if (m.is_string()) return m.get<std::string>();
  NIBBLE_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where, ": merge ", rank,
               " is neither \"a b\" nor [\"a\", \"b\"]");
  return m[0].get<std::string>() + " " + m[1].get<std::string>();
}

GgufVocab byte_level_bpe_vocab(const io::ModelSource& source, const std::string& path) {
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  NIBBLE_CHECK(file.is_object() && file.contains("model") && file["model"].is_object() &&
                   file["model"].value("type", std::string()) == "BPE" && file["model"].contains("vocab") &&
                   file["model"]["vocab"].is_object(),
               path, ": GGUF export needs a BPE tokenizer.json with a model.vocab object");
  GgufVocab v;
  v.model = "gpt2";
  v.pre = gguf_pre_name(file.value("pre_tokenizer", nlohmann::json()), path);
  const nlohmann::json& model = file["model"];
  const nlohmann::json added = file.value("added_tokens", nlohmann::json::array());
  int max_id = -1;
  for (const auto& [piece, id] : model["vocab"].items()) {
    NIBBLE_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (int64_t(1) << 30), path,
                 ": model.vocab[\"", piece, "\"] is not a valid id");
    max_id = std::max(max_id, id.get<int>());
  }
  for (const auto& t : added)
    if (t.is_object() && t.contains("id") && t["id"].is_number_integer()) max_id = std::max(max_id, t["id"].get<int>());
  const int size = padded_vocab_size(source, max_id + 1);
  init_placeholders(v, size, false);
  for (const auto& [piece, id] : model["vocab"].items()) {
    v.tokens[id.get<int>()] = piece;
    v.types[id.get<int>()] = GgufTokenType::Normal;
  }
  for (const auto& t : added) {
    const int id = t.value("id", -1);
    if (id < 0 || id >= size || !t.contains("content") || !t["content"].is_string()) continue;
    v.tokens[id] = t["content"].get<std::string>();
    v.types[id] = added_token_type(v.tokens[id], t.value("special", false));
  }
  const nlohmann::json merges = model.value("merges", nlohmann::json::array());
  NIBBLE_CHECK(merges.is_array(), path, ": model.merges must be an array");
  for (size_t i = 0; i < merges.size(); ++i) v.merges.push_back(merge_text(merges[i], path, i));

  set_special_ids(source, v);
  // Whether BOS/EOS go around the text: tokenizer_config.json, else the post_processor.
  const SpecialTokenPlan plan = plan_special_tokens(
      file.value("post_processor", nlohmann::json()), source.tokenizer_config,
      [&](std::string_view piece) { return find_token(v, std::string(piece)); }, path);
  if (v.bos_id < 0) v.bos_id = plan.bos_id;
  if (v.eos_id < 0) v.eos_id = plan.eos_id;
  v.add_bos = !plan.prefix.empty() && v.bos_id >= 0;
  v.add_eos = !plan.suffix.empty() && v.eos_id >= 0;
  return v;
}

}  // namespace

void add_gguf_tokenizer_metadata(const io::ModelSource& source, io::GgufWriter& writer) {
  const std::string spm = join_path(source.directory, "tokenizer.model");
  const std::string hf = join_path(source.directory, "tokenizer.json");
  GgufVocab vocab;
  if (file_exists(spm)) vocab = sentencepiece_vocab(source, spm);
  else if (file_exists(hf)) vocab = byte_level_bpe_vocab(source, hf);
  else fail(source.directory, ": no tokenizer (expected tokenizer.model or tokenizer.json)");
  vocab.chat_template = raw_chat_template(source);
  write_gguf_vocab(vocab, writer);
}

}  // namespace nibble::tokenizer
