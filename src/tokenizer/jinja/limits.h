// Every bound the Jinja interpreter enforces, so a hostile or broken template
// (or input) ends in an Error instead of a crash, a hang or exhausted memory.
// Real chat templates stay far below all of them.
#pragma once

#include <cstddef>

namespace nibble::tokenizer::jinja {

// Template text, in bytes.
inline constexpr size_t kMaxTemplateBytes = size_t{16} << 20;
// Parser recursion: each nested block or bracket, and each link of a
// left-leaning chain (a + b + c, x|f|g, a.b.c), uses one level.
inline constexpr int kMaxNesting = 128;
// Evaluator recursion: nested expressions, blocks and macro calls together.
inline constexpr int kMaxEvalDepth = 600;
// Macro calls in progress at once (recursion).
inline constexpr int kMaxCallDepth = 32;
// Statements plus loop iterations per render: a base, plus an allowance per
// value in the variables, so the budget grows with the conversation rather
// than with what the template asks for.
inline constexpr size_t kBaseSteps = 1'000'000;
inline constexpr size_t kStepsPerInputValue = 100;
// Any string, including the rendered output.
inline constexpr size_t kMaxTextBytes = size_t{32} << 20;
// Any list (range(), list concatenation).
inline constexpr size_t kMaxListItems = size_t{1} << 20;
// Nesting of values: JSON input, and tojson/printing (a namespace that
// contains itself).
inline constexpr int kMaxValueDepth = 256;

}  // namespace nibble::tokenizer::jinja
