// Text <-> token ids. One interface for every vocabulary nibble reads:
// SentencePiece models, HF tokenizer.json (byte-level or SentencePiece-style
// BPE), and vocabularies embedded in GGUF files.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`. add_special adds the BOS/EOS the model's
  // tokenizer_config asks for (add_bos_token / add_eos_token). Special-token
  // strings inside `text` (e.g. "<|im_start|>") become their ids.
  virtual std::vector<int> encode(std::string_view text, bool add_special) const = 0;
  // Text of `ids`; special tokens (BOS, EOS, ...) are dropped unless asked for.
  virtual std::string decode(const std::vector<int>& ids, bool keep_special = false) const = 0;
  // The vocabulary entry of one id, as stored (e.g. "▁the", "Ġthe", "<0x0A>").
  virtual std::string id_to_piece(int id) const = 0;
  virtual int piece_to_id(std::string_view piece) const = 0;  // -1 if absent
  virtual int vocab_size() const = 0;

  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  bool is_eos(int id) const;  // EOS or any extra end-of-generation id (e.g. <|eot_id|>)
  void add_eos_id(int id) { extra_eos_.push_back(id); }

 protected:
  int bos_id_ = -1;
  int eos_id_ = -1;
  std::vector<int> extra_eos_;
};

// Emits text as tokens arrive, holding back bytes until they form complete
// UTF-8 characters, so a multi-byte character split across tokens prints once.
// The prompt's ids give the context: a tokenizer may render a token
// differently at the start of a text (SentencePiece drops the leading space).
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tok, std::vector<int> context = {});
  std::string push(int id);  // returns the newly completed text
  std::string flush();       // whatever is left at the end

 private:
  const Tokenizer& tok_;
  std::vector<int> ids_;
  size_t emitted_ = 0;  // bytes of decode(ids_) already returned
};

}  // namespace nibble::tokenizer
