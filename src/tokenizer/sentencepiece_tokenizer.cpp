#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "core/error.h"

namespace nibble::tokenizer {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_path,
                                               SpecialTokenRules rules)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()), rules_(rules) {
  const auto status = sp_->Load(model_path);
  NIBBLE_CHECK(status.ok(), model_path, ": not a SentencePiece model (", status.ToString(), ")");
  bos_id_ = sp_->bos_id();
  eos_id_ = sp_->eos_id();
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int> ids;
  if (add_special && rules_.add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  std::vector<int> body;
  sp_->Encode(text, &body);
  ids.insert(ids.end(), body.begin(), body.end());
  if (add_special && rules_.add_eos && eos_id_ >= 0) ids.push_back(eos_id_);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int>& ids, bool keep_special) const {
  const int n = vocab_size();
  std::vector<int> valid;
  valid.reserve(ids.size());
  std::string out;
  for (int id : ids) {
    if (id < 0 || id >= n) continue;
    if (sp_->IsControl(id)) {
      if (!keep_special) continue;
      // Control pieces have no surface text in sentencepiece; show them.
      std::string text;
      sp_->Decode(valid, &text);
      out += text + sp_->IdToPiece(id);
      valid.clear();
      continue;
    }
    valid.push_back(id);
  }
  std::string text;
  sp_->Decode(valid, &text);
  return out + text;
}

std::string SentencePieceTokenizer::id_to_piece(int id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return sp_->IdToPiece(id);
}

int SentencePieceTokenizer::piece_to_id(std::string_view piece) const {
  const int id = sp_->PieceToId(piece);
  return (id == sp_->unk_id() && piece != sp_->IdToPiece(id)) ? -1 : id;
}

int SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

}  // namespace nibble::tokenizer
