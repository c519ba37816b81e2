#include "tokenizer/gguf_tokenizer.h"

#include "core/error.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/gguf_vocab_tokenizer.h"

namespace nibble::tokenizer {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const io::GgufFile& file) {
  GgufVocab vocab = read_gguf_vocab(file);
  if (vocab.model == "llama") return std::make_unique<SpmVocabTokenizer>(std::move(vocab));
  return std::make_unique<BpeVocabTokenizer>(std::move(vocab), file.path());
}

std::string gguf_chat_template(const io::GgufFile& file) {
  const io::GgufValue* t = file.find("tokenizer.chat_template");
  if (!t) return "";
  NIBBLE_CHECK(t->type() == io::GgufValueType::STRING, file.path(),
               ": tokenizer.chat_template must be a STRING, found ", t->describe());
  return std::string(t->as_string());
}

}  // namespace nibble::tokenizer
