// tokenizer.json "decoder": turns the pieces of a list of ids back into
// text, as tokenizers' decode_chain does: each step rewrites the list of
// piece strings. Supported: ByteLevel, Metaspace, Replace, ByteFallback,
// Fuse, Strip, and a Sequence of those.
//
// One deliberate difference: where tokenizers replaces bytes that are not
// valid UTF-8 by U+FFFD (ByteLevel, ByteFallback), nibble keeps the raw
// bytes, so a character split across tokens decodes to its bytes and
// StreamDecoder can hold them back until the character is complete.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace nibble::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& pieces) const = 0;
};

// nullptr when `config` is null. `where` names the file in errors.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& config, const std::string& where);

}  // namespace nibble::tokenizer
