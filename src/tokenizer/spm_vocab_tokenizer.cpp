// llama.cpp's SentencePiece tokenization of a "llama" GGUF vocabulary: the
// text (after a space, when it starts the input or follows a special token)
// has its spaces written as "▁" and is split into characters; then, while
// some adjacent pair joins into a vocabulary piece, the pair whose piece has
// the highest score is joined (the leftmost on ties). Characters no piece
// covers become their <0xXX> byte pieces.
#include <queue>

#include "tokenizer/gguf_vocab_tokenizer.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // ▁

struct Symbol {
  size_t begin, len;  // bytes of the escaped text; len 0 once joined into its left neighbour
  int prev, next;
};

struct Candidate {
  float score;
  int left, right;
  size_t len;  // the joined length, to tell a stale candidate
};

// Highest score first, then the leftmost.
struct LowerPriority {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void SpmVocabTokenizer::encode_text(std::string_view text, bool after_special, std::vector<int>& ids) const {
  std::string escaped;
  escaped.reserve(text.size() * 2 + kMetaspace.size());
  if (vocab_.add_space_prefix && after_special) escaped += kMetaspace;
  for (char c : text) {
    if (c == ' ') escaped += kMetaspace;
    else escaped += c;
  }

  std::vector<Symbol> symbols;
  for (size_t i = 0; i < escaped.size();) {
    const size_t len = decode_utf8(escaped, i).len;
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({i, len, index - 1, i + len < escaped.size() ? index + 1 : -1});
    i += len;
  }
  if (symbols.empty()) return;

  std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> queue;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t len = symbols[left].len + symbols[right].len;
    const int id = piece_to_id(std::string_view(escaped).substr(symbols[left].begin, len));
    if (id < 0) return;
    const float score = vocab_.scores.empty() ? 0.0f : vocab_.scores[id];
    queue.push({score, left, right, len});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) consider(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.len == 0 || right.len == 0 || left.len + right.len != c.len) continue;  // stale
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = std::string_view(escaped).substr(symbols[i].begin, symbols[i].len);
    if (const int id = piece_to_id(piece); id >= 0) {
      ids.push_back(id);
      continue;
    }
    for (char b : piece) {
      const int id = byte_ids_[static_cast<uint8_t>(b)];
      if (id >= 0) ids.push_back(id);
      else if (vocab_.unk_id >= 0) ids.push_back(vocab_.unk_id);
    }
  }
}

void SpmVocabTokenizer::append_normal_text(std::string_view piece, std::string& out) const {
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, kMetaspace.size()) == kMetaspace) {
      out += ' ';
      i += kMetaspace.size();
    } else {
      out += piece[i++];
    }
  }
}

}  // namespace nibble::tokenizer
