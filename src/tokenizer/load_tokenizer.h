// Picks the tokenizer a model ships: the vocabulary embedded in a GGUF file;
// else tokenizer.json (HF fast tokenizer) when present, else tokenizer.model
// (SentencePiece). End-of-generation ids come
// from the tokenizer, config.json and generation_config.json together.
#pragma once

#include <memory>

#include "io/model_source.h"
#include "tokenizer/tokenizer.h"

namespace nibble::tokenizer {

std::unique_ptr<Tokenizer> load_tokenizer(const io::ModelSource& source);

}  // namespace nibble::tokenizer
