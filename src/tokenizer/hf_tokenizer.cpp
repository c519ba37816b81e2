#include "tokenizer/hf_tokenizer.h"

#include "core/error.h"
#include "core/files.h"
#include "tokenizer/hf_special_tokens.h"

namespace nibble::tokenizer {

HfTokenizer::HfTokenizer(const std::string& tokenizer_json_path, const nlohmann::json& tokenizer_config)
    : path_(tokenizer_json_path) {
  const std::string text = read_text_file(path_);
  nlohmann::json file;
  try {
    file = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path_, ": not valid JSON (", e.what(), ")");
  }
  try {
    load(file, tokenizer_config);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type or missing
    fail(path_, ": unexpected tokenizer.json structure (", e.what(), ")");
  }
}

void HfTokenizer::load(const nlohmann::json& file, const nlohmann::json& tokenizer_config) {
  NIBBLE_CHECK(file.is_object() && file.contains("model") && file["model"].is_object(), path_,
               ": no \"model\" object (not a tokenizers tokenizer.json?)");
  const auto& model = file["model"];
  const std::string type = model.value("type", std::string());
  NIBBLE_CHECK(type == "BPE", path_, ": model type \"", type.empty() ? "(none)" : type,
               "\" is not supported; nibble reads BPE tokenizer.json files (WordPiece, Unigram and WordLevel "
               "are not implemented)");
  NIBBLE_CHECK(model.value("dropout", nlohmann::json()).is_null() || model["dropout"] == 0.0, path_,
               ": BPE dropout is not supported (it makes encoding random)");
  model_ = std::make_unique<BpeModel>(model, path_);
  normalizer_ = make_normalizer(file.value("normalizer", nlohmann::json()), path_);
  pre_tokenizer_ = make_pre_tokenizer(file.value("pre_tokenizer", nlohmann::json()), path_);
  decoder_ = make_decoder(file.value("decoder", nlohmann::json()), path_);

  vocab_size_ = model_->vocab_size();
  std::vector<AddedToken> raw, normalized;
  for (const auto& t : file.value("added_tokens", nlohmann::json::array())) {
    AddedToken a;
    a.id = t.at("id").get<int>();
    a.content = t.at("content").get<std::string>();
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.normalized = t.value("normalized", !a.special);
    a.single_word = t.value("single_word", false);
    NIBBLE_CHECK(a.id >= 0 && !a.content.empty(), path_, ": added token ", t.dump(), " has no id or no content");
    added_by_id_[a.id] = a.content;
    added_by_content_[a.content] = a.id;
    if (a.special) special_ids_.insert(a.id);
    vocab_size_ = std::max(vocab_size_, a.id + 1);
    if (a.normalized) {
      // tokenizers looks for these in normalized text, so normalizes them too.
      if (normalizer_) a.content = normalizer_->normalize(a.content);
      normalized.push_back(std::move(a));
    } else {
      raw.push_back(std::move(a));
    }
  }
  raw_added_ = AddedTokenMatcher(std::move(raw));
  normalized_added_ = AddedTokenMatcher(std::move(normalized));

  const SpecialTokenPlan plan =
      plan_special_tokens(file.value("post_processor", nlohmann::json()), tokenizer_config,
                          [this](std::string_view piece) { return piece_to_id(piece); }, path_);
  prefix_ids_ = plan.prefix;
  suffix_ids_ = plan.suffix;
  bos_id_ = plan.bos_id;
  eos_id_ = plan.eos_id;
}

void HfTokenizer::encode_plain(std::string_view text, bool at_start, std::vector<int>& ids) const {
  std::vector<PreToken> words{{std::string(text), at_start}};
  if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(words);
  for (const PreToken& w : words) model_->tokenize(w.text, ids);
}

std::vector<int> HfTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int> ids;
  if (add_special) ids = prefix_ids_;
  std::vector<TextSegment> segments, pieces;
  raw_added_.split(text, true, segments);
  for (const TextSegment& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    const std::string normalized = normalizer_ ? normalizer_->normalize(seg.text) : seg.text;
    pieces.clear();
    normalized_added_.split(normalized, seg.at_start, pieces);
    for (const TextSegment& piece : pieces) {
      if (piece.id >= 0) ids.push_back(piece.id);
      else encode_plain(piece.text, piece.at_start, ids);
    }
  }
  if (add_special) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

std::string HfTokenizer::decode(const std::vector<int>& ids, bool keep_special) const {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (int id : ids) {
    if (!keep_special && is_special(id)) continue;
    if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) pieces.push_back(it->second);
    else if (const std::string* p = model_->id_to_token(id)) pieces.push_back(*p);
    // ids outside the vocabulary are skipped, as in the SentencePiece tokenizer
  }
  if (!decoder_) {  // tokenizers joins the pieces with spaces when there is no decoder
    std::string out;
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i) out += ' ';
      out += pieces[i];
    }
    return out;
  }
  decoder_->decode_chain(pieces);
  std::string out;
  for (const std::string& p : pieces) out += p;
  return out;
}

std::string HfTokenizer::id_to_piece(int id) const {
  if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) return it->second;
  const std::string* p = model_->id_to_token(id);
  return p ? *p : std::string();
}

int HfTokenizer::piece_to_id(std::string_view piece) const {
  if (const auto it = added_by_content_.find(std::string(piece)); it != added_by_content_.end()) return it->second;
  return model_->token_to_id(piece);
}

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path,
                                             const nlohmann::json& tokenizer_config) {
  return std::make_unique<HfTokenizer>(tokenizer_json_path, tokenizer_config);
}

}  // namespace nibble::tokenizer
