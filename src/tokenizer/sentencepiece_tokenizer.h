// A SentencePiece `tokenizer.model` (Llama 1/2, Mistral v0.1, the bundled
// model), through libsentencepiece. encode() is sentencepiece's own encode,
// plus BOS/EOS as the model's tokenizer_config asks.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace nibble::tokenizer {

struct SpecialTokenRules {
  bool add_bos = true;
  bool add_eos = false;
};

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::string& model_path, SpecialTokenRules rules);
  ~SentencePieceTokenizer() override;

  std::vector<int> encode(std::string_view text, bool add_special) const override;
  std::string decode(const std::vector<int>& ids, bool keep_special) const override;
  std::string id_to_piece(int id) const override;
  int piece_to_id(std::string_view piece) const override;
  int vocab_size() const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  SpecialTokenRules rules_;
};

}  // namespace nibble::tokenizer
