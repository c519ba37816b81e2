// GPT-2's byte <-> unicode mapping, used by byte-level BPE (GPT-2, Llama 3,
// Qwen2): every byte becomes one printable character so that a vocabulary of
// strings covers arbitrary bytes. Printable Latin-1 bytes ('!'..'~',
// '¡'..'¬', '®'..'ÿ') map to themselves; the other 68 bytes map, in order, to
// U+0100, U+0101, ... (so ' ' is 'Ġ' and '\n' is 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nibble::tokenizer {

// The UTF-8 text of the character that stands for byte b.
const std::string& byte_to_unicode(uint8_t b);
// Appends the mapped characters of every byte of `bytes`.
void append_byte_level(std::string& out, std::string_view bytes);
// The byte a code point stands for, if it is one of the 256 mapped characters.
std::optional<uint8_t> unicode_to_byte(uint32_t cp);

}  // namespace nibble::tokenizer
