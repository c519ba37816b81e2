// tokenizer.json "pre_tokenizer": cuts normalized text into the words the
// BPE model sees. Supported: Split (string or regex pattern, every split
// behaviour, invert), ByteLevel (GPT-2's regex and the byte -> unicode
// mapping), Metaspace (spaces -> "▁", prepend schemes always/first/never),
// Digits, and a Sequence of those.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace nibble::tokenizer {

struct PreToken {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the original input (Metaspace's "first" scheme)
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces each piece by the pieces it splits into (empty ones dropped).
  virtual void pre_tokenize(std::vector<PreToken>& pieces) const = 0;
};

// nullptr when `config` is null. `where` names the file in errors.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& config, const std::string& where);

}  // namespace nibble::tokenizer
