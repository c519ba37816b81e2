// Tokenizers embedded in GGUF files (tokenizer.ggml.* metadata), read and
// written the way llama.cpp reads them and convert_hf_to_gguf.py writes them:
//   "llama": a SentencePiece-style vocabulary (pieces, scores, token types),
//            encoded by repeatedly merging the adjacent pair whose merged piece
//            has the highest score, with byte fallback to <0xXX> pieces;
//   "gpt2":  byte-level BPE (pieces, ranked merges) after the pre-tokenizer
//            regexes llama.cpp uses for tokenizer.ggml.pre.
// Control, user-defined and unknown-type tokens written in the text become
// their ids, as llama.cpp does with parse_special.
#pragma once

#include <memory>
#include <string>

#include "io/gguf.h"
#include "io/model_source.h"
#include "tokenizer/tokenizer.h"

namespace nibble::tokenizer {

// Tokenizer from a GGUF file's tokenizer.ggml.* metadata (model "llama" =
// SentencePiece, "gpt2" = byte-level BPE with the pre-tokenizer named by
// tokenizer.ggml.pre), BOS/EOS/add_bos/add_eos. Throws nibble::Error naming
// the file and key for missing or invalid metadata.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const io::GgufFile& file);

// The chat template string embedded in the file (tokenizer.chat_template), or "" if none.
std::string gguf_chat_template(const io::GgufFile& file);

// Adds tokenizer.ggml.* (model, pre, tokens, scores, token_type, merges,
// bos/eos/unk/padding ids, add_bos_token, add_eos_token) and
// tokenizer.chat_template for the tokenizer a Hugging Face model directory
// ships, as convert_hf_to_gguf.py does: tokenizer.model (SentencePiece) ->
// "llama"; else tokenizer.json byte-level BPE -> "gpt2" with its merges and
// the "pre" name of its pre-tokenizer (gpt-2, llama-bpe, qwen2). Throws
// nibble::Error for a tokenizer it cannot express.
void add_gguf_tokenizer_metadata(const io::ModelSource& source, io::GgufWriter& writer);

}  // namespace nibble::tokenizer
