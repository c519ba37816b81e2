// tokenizer.json "normalizer": rewrites each stretch of input text (between
// added tokens) before pre-tokenization. Supported: NFC, NFD, Prepend,
// Replace (string or regex pattern), Strip, Sequence of those. Others are
// rejected with an error naming the file and the type.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace nibble::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// nullptr when `config` is null (no normalizer). `where` names the file in errors.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& config, const std::string& where);

}  // namespace nibble::tokenizer
