// The vocabulary part of GGUF metadata (tokenizer.ggml.*) as plain data:
// what load_gguf_tokenizer reads and add_gguf_tokenizer_metadata writes.
// Key names and token types follow llama.cpp's gguf-py constants.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace nibble::tokenizer {

// tokenizer.ggml.token_type values.
enum class GgufTokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct GgufVocab {
  std::string model;  // "llama" or "gpt2"
  std::string pre;    // pre-tokenizer name ("default", "gpt-2", "llama-bpe", "qwen2", ...)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // "llama"; empty when the file has none
  std::vector<GgufTokenType> types;
  std::vector<std::string> merges;  // "gpt2": "left right", best rank first
  int bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::vector<int> end_of_turn_ids;  // tokenizer.ggml.eot_token_id / eom_token_id (read only)
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // "llama": a space before the text (SentencePiece's dummy prefix)
  std::string chat_template;      // "" if none
};

// Reads and validates the tokenizer.ggml.* keys, with llama.cpp's defaults
// for the ones a file may leave out. Throws Error naming file and key.
GgufVocab read_gguf_vocab(const io::GgufFile& file);

// Adds the keys of `vocab` to `writer` (ids < 0, empty scores/merges and an
// empty chat template are left out).
void write_gguf_vocab(const GgufVocab& vocab, io::GgufWriter& writer);

}  // namespace nibble::tokenizer
