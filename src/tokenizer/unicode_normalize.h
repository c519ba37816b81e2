// Unicode canonical normalization (NFC, NFD) for tokenizer normalizers such
// as Qwen2's {"type": "NFC"}. Bytes that are not valid UTF-8 pass through
// unchanged and block composition across them.
#pragma once

#include <string>
#include <string_view>

namespace nibble::tokenizer {

std::string to_nfd(std::string_view text);
std::string to_nfc(std::string_view text);

}  // namespace nibble::tokenizer
