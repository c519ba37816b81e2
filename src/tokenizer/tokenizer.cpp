#include "tokenizer/tokenizer.h"

#include <algorithm>

namespace nibble::tokenizer {

bool Tokenizer::is_eos(int id) const {
  return id == eos_id_ || std::find(extra_eos_.begin(), extra_eos_.end(), id) != extra_eos_.end();
}

namespace {
// Length of the longest prefix of s that ends on a UTF-8 character boundary.
size_t complete_utf8_prefix(const std::string& s) {
  size_t n = s.size();
  size_t i = n;
  int back = 0;
  while (i > 0 && back < 4) {
    const unsigned char c = s[i - 1];
    if ((c & 0xc0) != 0x80) {  // a lead byte or ASCII
      const size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return (n - (i - 1) >= need) ? n : i - 1;
    }
    --i;
    ++back;
  }
  return n;
}
}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, std::vector<int> context)
    : tok_(tok), ids_(std::move(context)), emitted_(tok_.decode(ids_).size()) {}

std::string StreamDecoder::push(int id) {
  ids_.push_back(id);
  const std::string text = tok_.decode(ids_);
  const size_t ready = complete_utf8_prefix(text);
  if (ready <= emitted_) return "";
  std::string out = text.substr(emitted_, ready - emitted_);
  emitted_ = ready;
  return out;
}

std::string StreamDecoder::flush() {
  const std::string text = tok_.decode(ids_);
  std::string out = text.size() > emitted_ ? text.substr(emitted_) : "";
  emitted_ = text.size();
  return out;
}

}  // namespace nibble::tokenizer
