#include "serve/incremental_decoder.h"

#include <algorithm>

namespace nibble::serve {

namespace {
constexpr size_t kContext = 4;     // tokens kept as context when the window is rebased
constexpr size_t kMaxWindow = 16;  // window size that triggers a rebase

// Length of the longest prefix of s that does not end inside a UTF-8 character.
size_t complete_utf8_prefix(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
    const unsigned char c = s[n - back];
    if ((c & 0xc0) == 0x80) continue;  // continuation byte: look further back
    const size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return back >= need ? n : n - back;
  }
  return n;
}

// SentencePiece decodes the bytes of an unfinished character (byte-fallback
// tokens) as U+FFFD; other decoders return the raw bytes. Either way the
// text is not final yet.
size_t final_prefix(const std::string& text, size_t emitted) {
  static const std::string kReplacement = "\xEF\xBF\xBD";
  if (text.size() >= emitted + kReplacement.size() &&
      text.compare(text.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0)
    return emitted;
  return complete_utf8_prefix(text);
}
}  // namespace

IncrementalDecoder::IncrementalDecoder(const tokenizer::Tokenizer& tok, const std::vector<int>& prompt)
    : tok_(tok) {
  const size_t keep = std::min(prompt.size(), kContext);
  window_.assign(prompt.end() - long(keep), prompt.end());
  emitted_ = tok_.decode(window_).size();
}

std::string IncrementalDecoder::push(int id) {
  window_.push_back(id);
  const std::string text = tok_.decode(window_);
  const size_t ready = final_prefix(text, emitted_);
  std::string out;
  if (ready > emitted_) {
    out = text.substr(emitted_, ready - emitted_);
    emitted_ = ready;
  }
  // Nothing pending: the recent tokens are context enough for what follows.
  if (ready == text.size() && emitted_ == text.size() && window_.size() > kMaxWindow) {
    window_.erase(window_.begin(), window_.end() - long(kContext));
    emitted_ = tok_.decode(window_).size();
  }
  return out;
}

std::string IncrementalDecoder::flush() {
  const std::string text = tok_.decode(window_);
  std::string out = text.size() > emitted_ ? text.substr(emitted_) : "";
  emitted_ = text.size();
  return out;
}

}  // namespace nibble::serve
