// A "gpt2" GGUF vocabulary: the pre-tokenizer llama.cpp names by
// tokenizer.ggml.pre cuts the text into words and maps their bytes to
// GPT-2's printable characters; the BPE model then applies the ranked merges
// of tokenizer.ggml.merges ("left right", best first) to each word.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/gguf_pre_tokenizer.h"
#include "tokenizer/gguf_vocab_tokenizer.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

BpeVocabTokenizer::BpeVocabTokenizer(GgufVocab vocab, const std::string& where)
    : GgufVocabTokenizer(std::move(vocab)) {
  nlohmann::json pieces = nlohmann::json::object();
  for (size_t i = 0; i < vocab_.tokens.size(); ++i) pieces[vocab_.tokens[i]] = i;
  nlohmann::json merges = nlohmann::json::array();
  for (size_t i = 0; i < vocab_.merges.size(); ++i) {
    const std::string& m = vocab_.merges[i];
    const size_t space = m.find(' ', 1);  // a piece may itself be " " in non-byte-level vocabularies
    NIBBLE_CHECK(space != std::string::npos, where, ": tokenizer.ggml.merges[", i, "] (\"", m,
                 "\") is not two pieces separated by a space");
    merges.push_back({m.substr(0, space), m.substr(space + 1)});
  }
  const nlohmann::json model = {{"type", "BPE"},
                                {"vocab", std::move(pieces)},
                                {"merges", std::move(merges)},
                                {"ignore_merges", gguf_pre_ignores_merges(vocab_.pre)}};
  model_ = std::make_unique<BpeModel>(model, where + ": tokenizer.ggml.tokens/merges");
  pre_tokenizer_ = make_pre_tokenizer(gguf_pre_tokenizer_config(vocab_.pre, where), where);
}

void BpeVocabTokenizer::encode_text(std::string_view text, bool /*after_special*/, std::vector<int>& ids) const {
  std::vector<PreToken> words{{std::string(text), false}};
  pre_tokenizer_->pre_tokenize(words);
  for (const PreToken& w : words) model_->tokenize(w.text, ids);
}

void BpeVocabTokenizer::append_normal_text(std::string_view piece, std::string& out) const {
  for (size_t i = 0; i < piece.size();) {
    const Utf8Char c = decode_utf8(piece, i);
    const auto byte = c.valid ? unicode_to_byte(c.cp) : std::nullopt;
    if (byte) out += static_cast<char>(*byte);
    else out.append(piece.substr(i, c.len));
    i += c.len;
  }
}

}  // namespace nibble::tokenizer
