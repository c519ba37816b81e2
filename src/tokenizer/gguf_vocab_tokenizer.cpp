#include "tokenizer/gguf_vocab_tokenizer.h"

#include <cstdio>

namespace nibble::tokenizer {

namespace {

// Tokens llama.cpp treats as ending generation, found by their text.
constexpr std::string_view kEndOfGenerationTokens[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<end_of_turn>", "<|eom_id|>", "<|end_of_text|>"};

bool is_special_type(GgufTokenType t) {
  return t == GgufTokenType::Control || t == GgufTokenType::UserDefined || t == GgufTokenType::Unknown;
}

// The byte of a "<0xAB>" piece, or -1.
int byte_of_piece(std::string_view piece) {
  unsigned value = 0;
  char tail = 0;
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x") return -1;
  if (std::sscanf(std::string(piece.substr(3)).c_str(), "%2x%c", &value, &tail) != 2 || tail != '>') return -1;
  return static_cast<int>(value);
}

}  // namespace

GgufVocabTokenizer::GgufVocabTokenizer(GgufVocab vocab) : vocab_(std::move(vocab)) {
  ids_.reserve(vocab_.tokens.size());
  std::vector<AddedToken> specials;
  for (size_t i = 0; i < vocab_.tokens.size(); ++i) {
    const int id = static_cast<int>(i);
    ids_[vocab_.tokens[i]] = id;
    if (is_special_type(vocab_.types[i]) && !vocab_.tokens[i].empty()) {
      AddedToken t;
      t.id = id;
      t.content = vocab_.tokens[i];
      t.special = true;
      specials.push_back(std::move(t));
    }
  }
  specials_ = AddedTokenMatcher(std::move(specials));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[b] = piece_to_id(name);
  }
  bos_id_ = vocab_.bos_id;
  eos_id_ = vocab_.eos_id;
  for (int id : vocab_.end_of_turn_ids)
    if (id != eos_id_) add_eos_id(id);
  for (std::string_view name : kEndOfGenerationTokens)
    if (const int id = piece_to_id(name); id >= 0 && id != eos_id_) add_eos_id(id);
}

std::vector<int> GgufVocabTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int> ids;
  if (add_special && vocab_.add_bos) ids.push_back(vocab_.bos_id);
  std::vector<TextSegment> segments;
  specials_.split(text, true, segments);
  bool after_special = true;
  for (const TextSegment& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      after_special = true;
    } else if (!seg.text.empty()) {
      encode_text(seg.text, after_special, ids);
      after_special = false;
    }
  }
  if (add_special && vocab_.add_eos) ids.push_back(vocab_.eos_id);
  return ids;
}

std::string GgufVocabTokenizer::decode(const std::vector<int>& ids, bool keep_special) const {
  std::string out;
  bool first = true;  // SentencePiece drops the space it put before the first piece
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    const std::string& piece = vocab_.tokens[id];
    const size_t before = out.size();
    switch (vocab_.types[id]) {
      case GgufTokenType::Control:
      case GgufTokenType::Unknown:
        if (keep_special) out += piece;
        break;
      case GgufTokenType::UserDefined:
        out += piece;
        break;
      case GgufTokenType::Byte:
        if (const int b = byte_of_piece(piece); b >= 0) out += static_cast<char>(b);
        break;
      case GgufTokenType::Normal:
      case GgufTokenType::Unused:
        append_normal_text(piece, out);
        if (first && vocab_.add_space_prefix && out.size() > before && out[before] == ' ') out.erase(before, 1);
        first = false;
        break;
    }
    if (out.size() > before) first = false;
  }
  return out;
}

std::string GgufVocabTokenizer::id_to_piece(int id) const {
  return (id >= 0 && id < vocab_size()) ? vocab_.tokens[id] : std::string();
}

int GgufVocabTokenizer::piece_to_id(std::string_view piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

}  // namespace nibble::tokenizer
