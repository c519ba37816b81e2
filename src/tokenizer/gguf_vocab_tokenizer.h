// The tokenizers behind load_gguf_tokenizer: one base that owns the GGUF
// vocabulary, finds special tokens in the text, adds BOS/EOS and decodes by
// token type, and one subclass per tokenizer.ggml.model that encodes plain
// text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace nibble::tokenizer {

class GgufVocabTokenizer : public Tokenizer {
 public:
  explicit GgufVocabTokenizer(GgufVocab vocab);

  std::vector<int> encode(std::string_view text, bool add_special) const override;
  // Control and unknown-type tokens are dropped unless keep_special;
  // user-defined tokens are their text, byte tokens their byte.
  std::string decode(const std::vector<int>& ids, bool keep_special = false) const override;
  std::string id_to_piece(int id) const override;
  int piece_to_id(std::string_view piece) const override;
  int vocab_size() const override { return static_cast<int>(vocab_.tokens.size()); }

  const GgufVocab& vocab() const { return vocab_; }

 protected:
  // Appends the ids of text holding no special token. `after_special`: the
  // text begins the input or follows a special token.
  virtual void encode_text(std::string_view text, bool after_special, std::vector<int>& ids) const = 0;
  // Appends the text a normal token stands for.
  virtual void append_normal_text(std::string_view piece, std::string& out) const = 0;

  GgufVocab vocab_;
  std::unordered_map<std::string_view, int> ids_;  // views into vocab_.tokens; the last of duplicates wins
  int byte_ids_[256];                              // ids of "<0x00>".."<0xFF>"; -1 if absent

 private:
  AddedTokenMatcher specials_;  // control, user-defined and unknown-type tokens
};

// tokenizer.ggml.model "llama": SentencePiece pieces merged by score.
class SpmVocabTokenizer final : public GgufVocabTokenizer {
 public:
  explicit SpmVocabTokenizer(GgufVocab vocab) : GgufVocabTokenizer(std::move(vocab)) {}

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int>& ids) const override;
  void append_normal_text(std::string_view piece, std::string& out) const override;
};

// tokenizer.ggml.model "gpt2": byte-level BPE after the pre-tokenizer named by tokenizer.ggml.pre.
class BpeVocabTokenizer final : public GgufVocabTokenizer {
 public:
  // `where` names the file in errors.
  BpeVocabTokenizer(GgufVocab vocab, const std::string& where);

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int>& ids) const override;
  void append_normal_text(std::string_view piece, std::string& out) const override;

 private:
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
};

}  // namespace nibble::tokenizer
