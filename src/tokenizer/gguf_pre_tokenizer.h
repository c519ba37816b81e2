// tokenizer.ggml.pre: the name llama.cpp gives a byte-level BPE
// pre-tokenizer, and the tokenizer.json pre_tokenizer it stands for. The
// names nibble knows: "default", the GPT-2 family ("gpt-2", "gpt2",
// "phi-2", "mpt", "olmo", "jais"), the Llama 3 family ("llama-bpe",
// "llama3", "llama-v3", "dbrx", "smaug-bpe", "falcon3"), the Qwen2 family
// ("qwen2", "stablelm2", "deepseek-r1-qwen", "megrez") and the StarCoder
// family ("starcoder", "refact", "command-r", "smollm", "codeshell").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace nibble::tokenizer {

// The pre_tokenizer config (for make_pre_tokenizer) that splits text as
// llama.cpp does for `pre`, byte-level mapping included. Throws Error naming
// `where` for a name it does not know.
nlohmann::json gguf_pre_tokenizer_config(const std::string& pre, const std::string& where);

// Whether llama.cpp looks a whole pre-tokenized word up before merging for `pre`.
bool gguf_pre_ignores_merges(const std::string& pre);

// The tokenizer.ggml.pre name of a tokenizer.json byte-level pre_tokenizer
// (GPT-2's ByteLevel, or a Split with Llama 3's or Qwen2's regex followed by
// ByteLevel). Throws Error naming `where` for any other.
std::string gguf_pre_name(const nlohmann::json& pre_tokenizer, const std::string& where);

}  // namespace nibble::tokenizer
