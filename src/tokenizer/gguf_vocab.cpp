#include "tokenizer/gguf_vocab.h"

#include <initializer_list>

#include "core/error.h"

namespace nibble::tokenizer {

namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kEot = "tokenizer.ggml.eot_token_id";
constexpr const char* kEom = "tokenizer.ggml.eom_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
constexpr const char* kChatTemplate = "tokenizer.chat_template";

// Pre-tokenizers after which llama.cpp adds BOS unless the file says otherwise.
bool pre_adds_bos(const std::string& pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "tekken";
}

void read_token_id(const io::GgufFile& file, const char* key, size_t n_tokens, int& id) {
  const io::GgufValue* v = file.find(key);
  if (!v) return;
  NIBBLE_CHECK(v->is_integer(), file.path(), ": ", key, " must be an integer, found ", v->describe());
  const int64_t value = v->as_int();
  NIBBLE_CHECK(value >= 0 && static_cast<uint64_t>(value) < n_tokens, file.path(), ": ", key, " = ", value,
               " is not a token id (the vocabulary has ", n_tokens, " tokens)");
  id = static_cast<int>(value);
}

void read_flag(const io::GgufFile& file, const char* key, bool& flag) {
  const io::GgufValue* v = file.find(key);
  if (!v) return;
  NIBBLE_CHECK(v->type() == io::GgufValueType::BOOL, file.path(), ": ", key, " must be a BOOL, found ",
               v->describe());
  flag = v->as_bool();
}

const io::GgufValue& array_of(const io::GgufFile& file, const char* key, size_t n_tokens) {
  const io::GgufValue& v = file.get(key);
  NIBBLE_CHECK(v.is_array(), file.path(), ": ", key, " must be an array, found ", v.describe());
  NIBBLE_CHECK(v.size() == n_tokens, file.path(), ": ", key, " has ", v.size(), " entries but ", kTokens, " has ",
               n_tokens);
  return v;
}

}  // namespace

GgufVocab read_gguf_vocab(const io::GgufFile& file) {
  GgufVocab vocab;
  const io::GgufValue* model = file.find(kModel);
  NIBBLE_CHECK(model, file.path(), ": no ", kModel, " (the file carries no tokenizer)");
  NIBBLE_CHECK(model->type() == io::GgufValueType::STRING, file.path(), ": ", kModel, " must be a STRING, found ",
               model->describe());
  vocab.model = std::string(model->as_string());
  NIBBLE_CHECK(vocab.model == "llama" || vocab.model == "gpt2", file.path(), ": ", kModel, " \"", vocab.model,
               "\" is not supported (nibble reads \"llama\" SentencePiece and \"gpt2\" BPE vocabularies)");
  if (const io::GgufValue* pre = file.find(kPre)) {
    NIBBLE_CHECK(pre->type() == io::GgufValueType::STRING, file.path(), ": ", kPre, " must be a STRING, found ",
                 pre->describe());
    vocab.pre = std::string(pre->as_string());
  }
  if (vocab.pre.empty()) vocab.pre = "default";

  const io::GgufValue* tokens = file.find(kTokens);
  NIBBLE_CHECK(tokens, file.path(), ": no ", kTokens, " (the file carries no vocabulary)");
  NIBBLE_CHECK(tokens->is_array() && tokens->array_type() == io::GgufValueType::STRING, file.path(), ": ", kTokens,
               " must be an array of STRING, found ", tokens->describe());
  NIBBLE_CHECK(tokens->size() > 0 && tokens->size() < (uint64_t(1) << 30), file.path(), ": ", kTokens, " has ",
               tokens->size(), " tokens");
  for (std::string_view t : tokens->as_strings()) vocab.tokens.emplace_back(t);
  const size_t n = vocab.tokens.size();

  if (file.has(kScores)) {
    const io::GgufValue& v = array_of(file, kScores, n);
    if (v.array_type() == io::GgufValueType::INT32) {
      for (int64_t s : v.as_ints()) vocab.scores.push_back(static_cast<float>(s));
    } else {
      NIBBLE_CHECK(v.array_type() == io::GgufValueType::FLOAT32, file.path(), ": ", kScores,
                   " must be an array of FLOAT32 (or INT32), found ", v.describe());
      for (double s : v.as_floats()) vocab.scores.push_back(static_cast<float>(s));
    }
  }
  if (file.has(kTypes)) {
    const io::GgufValue& v = array_of(file, kTypes, n);
    NIBBLE_CHECK(v.array_type() == io::GgufValueType::INT32, file.path(), ": ", kTypes,
                 " must be an array of INT32, found ", v.describe());
    const std::vector<int64_t> types = v.as_ints();
    for (size_t i = 0; i < n; ++i) {
      NIBBLE_CHECK(types[i] >= 1 && types[i] <= 6, file.path(), ": ", kTypes, "[", i, "] = ", types[i],
                   " is not a token type (1 normal .. 6 byte)");
      vocab.types.push_back(static_cast<GgufTokenType>(types[i]));
    }
  } else {
    vocab.types.assign(n, GgufTokenType::Normal);
  }

  if (vocab.model == "gpt2") {
    const io::GgufValue* merges = file.find(kMerges);
    NIBBLE_CHECK(merges, file.path(), ": no ", kMerges, " (a \"gpt2\" vocabulary needs its BPE merges)");
    NIBBLE_CHECK(merges->is_array() && merges->array_type() == io::GgufValueType::STRING, file.path(), ": ",
                 kMerges, " must be an array of STRING, found ", merges->describe());
    for (std::string_view m : merges->as_strings()) vocab.merges.emplace_back(m);
    vocab.add_bos = pre_adds_bos(vocab.pre);
  } else {  // llama.cpp's defaults for SentencePiece vocabularies
    vocab.bos_id = n > 1 ? 1 : -1;
    vocab.eos_id = n > 2 ? 2 : -1;
    vocab.unk_id = 0;
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  }
  read_token_id(file, kBos, n, vocab.bos_id);
  read_token_id(file, kEos, n, vocab.eos_id);
  read_token_id(file, kUnk, n, vocab.unk_id);
  read_token_id(file, kPad, n, vocab.pad_id);
  for (const char* key : {kEot, kEom}) {
    int id = -1;
    read_token_id(file, key, n, id);
    if (id >= 0) vocab.end_of_turn_ids.push_back(id);
  }
  read_flag(file, kAddBos, vocab.add_bos);
  read_flag(file, kAddEos, vocab.add_eos);
  if (vocab.model == "llama") read_flag(file, kAddSpacePrefix, vocab.add_space_prefix);
  NIBBLE_CHECK(!vocab.add_bos || vocab.bos_id >= 0, file.path(), ": ", kAddBos, " is true but there is no ", kBos);
  NIBBLE_CHECK(!vocab.add_eos || vocab.eos_id >= 0, file.path(), ": ", kAddEos, " is true but there is no ", kEos);

  if (const io::GgufValue* t = file.find(kChatTemplate)) {
    NIBBLE_CHECK(t->type() == io::GgufValueType::STRING, file.path(), ": ", kChatTemplate,
                 " must be a STRING, found ", t->describe());
    vocab.chat_template = std::string(t->as_string());
  }
  return vocab;
}

void write_gguf_vocab(const GgufVocab& vocab, io::GgufWriter& writer) {
  using io::GgufValue;
  writer.add(kModel, GgufValue::string(vocab.model));
  writer.add(kPre, GgufValue::string(vocab.pre));
  writer.add(kTokens, GgufValue::string_array(std::span<const std::string>(vocab.tokens)));
  if (!vocab.scores.empty()) writer.add(kScores, GgufValue::array(vocab.scores));
  std::vector<int32_t> types;
  types.reserve(vocab.types.size());
  for (GgufTokenType t : vocab.types) types.push_back(static_cast<int32_t>(t));
  writer.add(kTypes, GgufValue::array(types));
  if (!vocab.merges.empty()) writer.add(kMerges, GgufValue::string_array(std::span<const std::string>(vocab.merges)));
  const auto add_id = [&](const char* key, int id) {
    if (id >= 0) writer.add(key, GgufValue::uint32(static_cast<uint32_t>(id)));
  };
  add_id(kBos, vocab.bos_id);
  add_id(kEos, vocab.eos_id);
  add_id(kUnk, vocab.unk_id);
  add_id(kPad, vocab.pad_id);
  writer.add(kAddBos, GgufValue::boolean(vocab.add_bos));
  writer.add(kAddEos, GgufValue::boolean(vocab.add_eos));
  if (!vocab.chat_template.empty()) writer.add(kChatTemplate, GgufValue::string(vocab.chat_template));
}

}  // namespace nibble::tokenizer
