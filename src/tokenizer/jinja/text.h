// UTF-8 text helpers for the Jinja interpreter: code point iteration,
// whitespace as JavaScript's String.trim and /\s/ see it (the set
// @huggingface/jinja, the Hub's renderer, strips), simple case mapping, and
// JavaScript's number-to-text rules (how the Hub's renderer prints numbers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/utf8.h"  // append_utf8

namespace nibble::tokenizer::jinja {

// Decodes the code point at text[i] and advances i. A byte that does not start
// a valid UTF-8 sequence is returned as itself (0x80..0xFF) and skips one byte.
char32_t next_code_point(std::string_view text, size_t& i);
size_t count_code_points(std::string_view text);
// The code points of `text`, each as its own UTF-8 string.
std::vector<std::string> split_code_points(std::string_view text);

bool is_space(char32_t cp);  // JavaScript's whitespace and line terminators
bool is_word_char(char c);   // [A-Za-z0-9_]
bool is_digit(char c);

std::string trim(std::string_view text, bool left = true, bool right = true);
// Python's str.strip(chars): removes any of the code points in `chars`.
std::string trim_chars(std::string_view text, std::string_view chars, bool left, bool right);

std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);
std::string capitalize(std::string_view text);  // Python str.capitalize
std::string title_case(std::string_view text);  // Python str.title

// Number.prototype.toString for a double ("1.5", "1e+21", "NaN").
std::string js_number(double v);

}  // namespace nibble::tokenizer::jinja
