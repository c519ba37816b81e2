// Hugging Face tokenizer.json files whose model is BPE: byte-level BPE
// (GPT-2, Llama 3, Qwen2) and SentencePiece-style BPE with byte fallback
// (Llama 2, Mistral). encode() follows tokenizers' pipeline:
//
//   added tokens (raw) -> normalizer -> added tokens (normalized)
//     -> pre_tokenizer -> BPE per word -> BOS/EOS
//
// and decode() runs the file's decoder over the pieces of the ids.
//
// BOS/EOS: tokenizer_config.json's add_bos_token / add_eos_token decide when
// present (with bos_token / eos_token, strings or {"content": ...}); else the
// post_processor's single template (TemplateProcessing, Roberta/Bert
// processing, or a Sequence holding one) does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_normalizer.h"
#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace nibble::tokenizer {

class HfTokenizer : public Tokenizer {
 public:
  // Throws Error naming the file for a missing or malformed file or an
  // unsupported model or component type.
  HfTokenizer(const std::string& tokenizer_json_path, const nlohmann::json& tokenizer_config);

  std::vector<int> encode(std::string_view text, bool add_special) const override;
  std::string decode(const std::vector<int>& ids, bool keep_special = false) const override;
  std::string id_to_piece(int id) const override;
  int piece_to_id(std::string_view piece) const override;
  int vocab_size() const override { return vocab_size_; }

  bool is_special(int id) const { return special_ids_.count(id) != 0; }

 private:
  void load(const nlohmann::json& file, const nlohmann::json& tokenizer_config);
  void setup_special_ids(const nlohmann::json& post_processor, const nlohmann::json& tokenizer_config);
  void encode_plain(std::string_view text, bool at_start, std::vector<int>& ids) const;

  std::string path_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  AddedTokenMatcher raw_added_;         // added tokens with normalized=false
  AddedTokenMatcher normalized_added_;  // normalized=true, their content normalized too
  std::unordered_map<int, std::string> added_by_id_;
  std::unordered_map<std::string, int> added_by_content_;
  std::unordered_set<int> special_ids_;
  std::vector<int> prefix_ids_;  // what add_special puts before the text (BOS)
  std::vector<int> suffix_ids_;  // and after it (EOS)
  int vocab_size_ = 0;
};

// The factory the model loader calls. `tokenizer_config` is the parsed
// tokenizer_config.json, or null when the model has none.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path,
                                             const nlohmann::json& tokenizer_config);

}  // namespace nibble::tokenizer
