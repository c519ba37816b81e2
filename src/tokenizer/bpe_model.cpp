#include "tokenizer/bpe_model.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // ▁

// Whether `piece` is "▁"* followed by characters other than "▁".
bool metaspace_only_leading(std::string_view piece) {
  size_t i = 0;
  while (piece.substr(i, kMetaspace.size()) == kMetaspace) i += kMetaspace.size();
  return piece.find(kMetaspace, i) == std::string_view::npos;
}

std::string optional_string(const nlohmann::json& obj, const char* key) {
  const auto it = obj.find(key);
  return (it != obj.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

bool optional_bool(const nlohmann::json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& model, const std::string& where) {
  const auto vocab_it = model.find("vocab");
  NIBBLE_CHECK(vocab_it != model.end() && vocab_it->is_object(), where,
               ": model.vocab must be an object of piece -> id");
  int max_id = -1;
  for (const auto& [piece, id_json] : vocab_it->items()) {
    NIBBLE_CHECK(id_json.is_number_integer() && id_json.get<int64_t>() >= 0 &&
                     id_json.get<int64_t>() < (int64_t(1) << 30),
                 where, ": model.vocab[\"", piece, "\"] is not a valid id");
    max_id = std::max(max_id, id_json.get<int>());
  }
  id_to_piece_.resize(max_id + 1);
  has_id_.assign(max_id + 1, false);
  for (const auto& [piece, id_json] : vocab_it->items()) {
    const int id = id_json.get<int>();
    NIBBLE_CHECK(!has_id_[id], where, ": model.vocab gives id ", id, " to two pieces");
    id_to_piece_[id] = piece;
    has_id_[id] = true;
  }
  vocab_.reserve(vocab_it->size());
  cut_before_metaspace_ = true;
  for (int id = 0; id <= max_id; ++id) {
    if (!has_id_[id]) continue;
    vocab_.emplace(id_to_piece_[id], id);
    if (!metaspace_only_leading(id_to_piece_[id])) cut_before_metaspace_ = false;
  }
  cut_before_metaspace_ = cut_before_metaspace_ && vocab_.count(kMetaspace) > 0;

  fuse_unk_ = optional_bool(model, "fuse_unk");
  byte_fallback_ = optional_bool(model, "byte_fallback");
  ignore_merges_ = optional_bool(model, "ignore_merges");
  continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix");
  end_of_word_suffix_ = optional_string(model, "end_of_word_suffix");
  const std::string unk = optional_string(model, "unk_token");
  if (!unk.empty()) unk_id_ = token_to_id(unk);  // an unk missing from the vocabulary drops unknown characters
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[b] = token_to_id(name);
  }

  const auto merges_it = model.find("merges");
  NIBBLE_CHECK(merges_it != model.end() && merges_it->is_array(), where, ": model.merges must be an array");
  merges_.reserve(merges_it->size());
  int rank = 0;
  std::string merged;
  for (const auto& m : *merges_it) {
    std::string_view a, b;
    if (m.is_string()) {  // "a b" (tokenizers before 0.20)
      const std::string_view line = m.get_ref<const std::string&>();
      const size_t space = line.find(' ');
      NIBBLE_CHECK(space != std::string_view::npos && line.find(' ', space + 1) == std::string_view::npos, where,
                   ": merge ", rank, " (\"", line, "\") is not two pieces separated by one space");
      a = line.substr(0, space);
      b = line.substr(space + 1);
    } else {  // ["a", "b"]
      NIBBLE_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), where, ": merge ",
                   rank, " is neither \"a b\" nor [\"a\", \"b\"]");
      a = m[0].get_ref<const std::string&>();
      b = m[1].get_ref<const std::string&>();
    }
    const int a_id = token_to_id(a), b_id = token_to_id(b);
    NIBBLE_CHECK(a_id >= 0 && b_id >= 0, where, ": merge ", rank, " (\"", a, "\", \"", b,
                 "\") uses a piece that is not in the vocabulary");
    merged.assign(a);
    merged.append(b.substr(std::min(continuing_subword_prefix_.size(), b.size())));
    const int new_id = token_to_id(merged);
    NIBBLE_CHECK(new_id >= 0, where, ": merge ", rank, " makes \"", merged, "\", which is not in the vocabulary");
    merges_[pair_key(a_id, b_id)] = Merge{rank, new_id};
    ++rank;
  }
}

int BpeModel::token_to_id(std::string_view piece) const {
  const auto it = vocab_.find(piece);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::id_to_token(int id) const {
  if (id < 0 || id >= vocab_size() || !has_id_[id]) return nullptr;
  return &id_to_piece_[id];
}

void BpeModel::word_to_symbols(std::string_view word, std::vector<int>& symbols) const {
  bool pending_unk = false;  // the last symbol is an unknown token that fuse_unk may extend
  const bool affixes = !continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty();
  std::string affixed;
  for (size_t i = 0; i < word.size();) {
    const size_t len = decode_utf8(word, i).len;
    std::string_view ch = word.substr(i, len);
    if (affixes) {
      affixed.clear();
      if (i > 0) affixed += continuing_subword_prefix_;
      affixed += ch;
      if (i + len == word.size()) affixed += end_of_word_suffix_;
      ch = affixed;
    }
    i += len;
    if (const int id = token_to_id(ch); id >= 0) {
      symbols.push_back(id);
      pending_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : ch) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        for (char c : ch) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
        pending_unk = false;
        continue;
      }
    }
    if (unk_id_ < 0) continue;  // like tokenizers: no unknown token, the character is dropped
    if (!(fuse_unk_ && pending_unk)) symbols.push_back(unk_id_);
    pending_unk = true;
  }
}

void BpeModel::apply_merges(std::vector<int>& symbols) const {
  const int n = static_cast<int>(symbols.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int left) {
    const int right = next[left];
    if (right < 0) return;
    const auto it = merges_.find(pair_key(symbols[left], symbols[right]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int left = top.pos;
    const int right = next[left];
    if (!alive[left] || right < 0) continue;
    // The pair may have changed since it was queued: check it still merges the same way.
    const auto it = merges_.find(pair_key(symbols[left], symbols[right]));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    symbols[left] = top.new_id;
    alive[right] = false;
    next[left] = next[right];
    if (next[left] >= 0) prev[next[left]] = left;
    if (prev[left] >= 0) consider(prev[left]);
    consider(left);
  }
  int out = 0;
  for (int i = 0; i >= 0; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

void BpeModel::tokenize(std::string_view word, std::vector<int>& ids) const {
  if (!cut_before_metaspace_) return tokenize_word(word, ids);
  size_t start = 0;
  for (size_t pos = word.find(kMetaspace, 1); pos != std::string_view::npos;
       pos = word.find(kMetaspace, pos + kMetaspace.size())) {
    const size_t n = kMetaspace.size();
    if (pos == start || (pos >= n && word.substr(pos - n, n) == kMetaspace)) continue;  // not after a character
    tokenize_word(word.substr(start, pos - start), ids);
    start = pos;
  }
  tokenize_word(word.substr(start), ids);
}

void BpeModel::tokenize_word(std::string_view word, std::vector<int>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int id = token_to_id(word); id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (const auto it = cache_.find(word); it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int> symbols;
  symbols.reserve(word.size());
  word_to_symbols(word, symbols);
  apply_merges(symbols);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::move(symbols));
  }
}

}  // namespace nibble::tokenizer
