// The BPE model of a Hugging Face tokenizer.json ({"model": {"type": "BPE"}}):
// a vocabulary of pieces, merges ranked by their order in the file, and the
// options that decide what happens to characters outside the vocabulary
// (byte_fallback to "<0x41>" pieces, or the unknown token).
//
// tokenize() splits a word into characters and repeatedly applies the
// lowest-ranked merge among adjacent pairs (leftmost first on ties), using a
// priority queue, so even a word of a megabyte stays O(n log n). Results for
// short words are cached: natural text repeats its words.
//
// SentencePiece-style files have no pre-tokenizer, so a whole line reaches
// the model as one word. When no piece has a "▁" after another character
// (true of SentencePiece vocabularies), no merge can join the text before a
// "▁" to the "▁", so such a word is cut there first: the same result, and
// the cache sees real words.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nibble::tokenizer {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object; `where` names the file in errors.
  BpeModel(const nlohmann::json& model, const std::string& where);
  BpeModel(const BpeModel&) = delete;  // vocab_ points into id_to_piece_
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int>& ids) const;

  int token_to_id(std::string_view piece) const;  // -1 if absent
  // The piece of `id`; nullptr if the vocabulary has no such id.
  const std::string* id_to_token(int id) const;
  int vocab_size() const { return static_cast<int>(id_to_piece_.size()); }  // highest id + 1

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Merge {
    int rank;
    int new_id;
  };
  static uint64_t pair_key(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

  void tokenize_word(std::string_view word, std::vector<int>& ids) const;
  void word_to_symbols(std::string_view word, std::vector<int>& symbols) const;
  void apply_merges(std::vector<int>& symbols) const;

  std::vector<std::string> id_to_piece_;
  std::unordered_map<std::string_view, int> vocab_;  // views into id_to_piece_
  std::vector<bool> has_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  int unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  bool cut_before_metaspace_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  int byte_ids_[256];  // ids of "<0x00>".."<0xFF>" for byte_fallback; -1 if absent

  static constexpr size_t kCacheCapacity = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int>, StringHash, std::equal_to<>> cache_;
};

}  // namespace nibble::tokenizer
