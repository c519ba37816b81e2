// Generated token ids -> text, as they arrive, for many concurrent streams.
// Like tokenizer::StreamDecoder it holds back bytes of an unfinished UTF-8
// character and gives the first token its context (SentencePiece drops a
// leading space at the start of a text), but it decodes only a short window
// of recent tokens, so each token costs the same however long the stream
// (StreamDecoder re-decodes everything: quadratic in the stream's length).
#pragma once

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace nibble::serve {

class IncrementalDecoder {
 public:
  // The last few prompt tokens are the context of the first generated one.
  IncrementalDecoder(const tokenizer::Tokenizer& tok, const std::vector<int>& prompt);

  std::string push(int id);  // text completed by this token
  std::string flush();       // whatever is left at the end (may be a partial character)

 private:
  const tokenizer::Tokenizer& tok_;
  std::vector<int> window_;  // context + tokens since the last rebase
  size_t emitted_ = 0;       // bytes of decode(window_) already returned or belonging to context
};

}  // namespace nibble::serve
