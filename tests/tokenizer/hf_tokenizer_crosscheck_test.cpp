// nibble's tokenizer.json BPE against tokenizers.js (@huggingface/tokenizers,
// run by tests/js/hf_tokenize.mjs) on a few hundred varied strings and the
// first 20 KB of the KJV eval text: the same ids with and without special
// tokens, and the same decoded text, for the real Llama 3, Qwen3 and
// (Mistral-style) "llama2" tokenizer.json files, and for a Metaspace variant
// with lstrip/rstrip added tokens.
//
// Strings avoid U+FEFF: JavaScript's \s matches it, Oniguruma's (and PCRE2's)
// does not, so tokenizers.js itself disagrees with the Rust tokenizers there.
#include <gtest/gtest.h>

#include <random>

#include "hf_tokenizer_fixtures.h"

namespace nibble {
namespace {

std::vector<std::string> fragments() {
  return {
      "Hello", "world", "Hello, world!", " leading space", "trailing space ", "don't", "I'LL", "we've", "They're",
      "it's", "IT'S", "it\u017F", "O'Neil", "ALL CAPS", "camelCaseWord", "snake_case_word", "e-mail", "U.S.A.", "...", "!!!???", "—",
      "«quoted»", "\"double\"", "'single'", "(paren)", "[bracket]", "{brace}",
      // numbers
      "0", "7", "42", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "-273.15", "1e-9", "0x1F",
      "١٢٣٤", "½", "x²", "Ⅻ", "2024-05-09", "10:30pm",
      // languages
      "café", "naïve", "Straße", "Ελληνικά", "Привет, мир", "你好，世界", "日本語のテキスト", "カタカナ", "한국어 텍스트",
      "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Tiếng Việt", "ⓐⓑⓒ", "ﬁ ligature",
      // combining sequences (NFC changes them)
      "e\u0301", "A\u030A", "o\u0308\u0304", "\u1100\u1161\u11A8", "a\u0323\u0302", "\u212B", "\u2126",
      // emoji
      "🙂", "🦙🦙", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "✅", "🚀 launch", "😀😃😄😁",
      // code
      "for (int i = 0; i < n; ++i) {", "def f(x):\n    return x ** 2", "<div class=\"a\">text</div>",
      "{\"key\": [1, 2, 3]}", "#include <vector>", "std::vector<int> v;", "a && b || !c", "x += 1; // note",
      "SELECT * FROM t WHERE id = 7;", "$HOME/.config", "C:\\Windows\\System32", "https://example.com/a?b=c&d=e",
      // whitespace
      " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", " \n ", "\r\n", "\u00A0", "\u3000", "a  b",
      "a\tb", "a\n\nb", "    indented", "trailing   ",
      "a\u0085b", "x\u2028y\u2029z", "\u1680ogham", "thin\u2009space", "zero\u200Bwidth", "\u180E", "\x0B\x0C",
      // special and added token strings
      "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>", "<|endoftext|>", "<s>", "</s>", "<unk>",
      "<think>", "</think>", "<|fim_prefix|>", "<|", "|>", "<0x0A>",
  };
}

// The fragments alone, then random joins of a few of them (fixed seed).
std::vector<std::string> crosscheck_strings() {
  std::vector<std::string> out = fragments();
  const auto frags = fragments();
  const std::vector<std::string> seps = {"", " ", "  ", "\n", "\t", " \n", ", "};
  std::mt19937 rng(20240509);
  for (int i = 0; i < 300; ++i) {
    const int n = 2 + static_cast<int>(rng() % 5);
    std::string s;
    for (int k = 0; k < n; ++k) {
      if (k) s += seps[rng() % seps.size()];
      s += frags[rng() % frags.size()];
    }
    out.push_back(s);
  }
  // The first 20 KB of the KJV eval text, whole and line by line.
  std::string kjv = read_text_file(test::testdata("kjv/eval.txt")).substr(0, 20000);
  while (!kjv.empty() && (static_cast<unsigned char>(kjv.back()) & 0xC0) == 0x80) kjv.pop_back();
  if (!kjv.empty() && static_cast<unsigned char>(kjv.back()) >= 0xC0) kjv.pop_back();
  out.push_back(kjv);
  std::istringstream lines(kjv);
  for (std::string line; std::getline(lines, line);) out.push_back(line);
  return out;
}

void expect_same_as_tokenizers_js(const tokenizer::Tokenizer& tok, const std::string& dir,
                                  const std::vector<std::string>& strings) {
  const nlohmann::json expected = test::run_tokenizers_js(dir, strings);
  ASSERT_TRUE(expected.is_array()) << "no output from tokenizers.js";
  ASSERT_EQ(expected.size(), strings.size());
  int mismatches = 0;
  for (size_t i = 0; i < strings.size() && mismatches < 10; ++i) {
    const auto ids = tok.encode(strings[i], false);
    const bool ok = ids == expected[i]["ids"].get<std::vector<int>>() &&
                    tok.encode(strings[i], true) == expected[i]["ids_special"].get<std::vector<int>>() &&
                    tok.decode(ids) == expected[i]["text"].get<std::string>();
    EXPECT_TRUE(ok) << "string " << i << ": \"" << strings[i] << "\"\n  tokenizers.js: " << expected[i].dump()
                    << "\n  nibble ids: " << nlohmann::json(ids).dump()
                    << " with special: " << nlohmann::json(tok.encode(strings[i], true)).dump()
                    << " decoded: " << nlohmann::json(tok.decode(ids)).dump();
    if (!ok) ++mismatches;
  }
}

TEST(HfTokenizerCrossCheck, Llama3AgreesWithTokenizersJs) {
  const auto* tok = test::lenml_tokenizer("llama3");
  ASSERT_TRUE(tok);
  expect_same_as_tokenizers_js(*tok, test::lenml_models_dir("llama3"), crosscheck_strings());
}

TEST(HfTokenizerCrossCheck, Qwen3AgreesWithTokenizersJs) {
  const auto* tok = test::lenml_tokenizer("qwen3");
  ASSERT_TRUE(tok);
  expect_same_as_tokenizers_js(*tok, test::lenml_models_dir("qwen3"), crosscheck_strings());
}

TEST(HfTokenizerCrossCheck, SentencePieceStyleAgreesWithTokenizersJs) {
  const auto* tok = test::lenml_tokenizer("llama2");
  ASSERT_TRUE(tok);
  expect_same_as_tokenizers_js(*tok, test::lenml_models_dir("llama2"), crosscheck_strings());
}

// The newer SentencePiece-style layout (Llama 2 after transformers 4.38,
// Mistral v0.3): no normalizer, a Metaspace pre-tokenizer that prepends "▁"
// only at the start of the input; plus added tokens that swallow the
// whitespace beside them. (The decoder stays Replace/ByteFallback/Fuse/Strip:
// a Metaspace decoder drops every "▁" of the first piece in tokenizers, only
// one in tokenizers.js; hf_tokenizer_test checks nibble follows tokenizers.)
TEST(HfTokenizerCrossCheck, MetaspaceAndStrippingAddedTokensAgreeWithTokenizersJs) {
  const std::string src = test::lenml_models_dir("llama2");
  ASSERT_FALSE(src.empty());
  auto file = nlohmann::json::parse(read_text_file(src + "/tokenizer.json"));
  file["normalizer"] = nullptr;
  file["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"},
                           {"split", false}};
  const auto added = [](int id, const char* content, bool special, bool lstrip, bool rstrip) {
    return nlohmann::json{{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", lstrip},
                          {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
  };
  file["added_tokens"].push_back(added(32000, "[INST]", true, false, true));
  file["added_tokens"].push_back(added(32001, "[/INST]", true, true, false));
  file["added_tokens"].push_back(added(32002, "<tool>", false, true, true));
  const std::string dir = test::temp_dir("metaspace-json");
  write_text_file_atomically(dir + "/tokenizer.json", file.dump());
  write_text_file_atomically(dir + "/tokenizer_config.json", read_text_file(src + "/tokenizer_config.json"));
  const auto config = nlohmann::json::parse(read_text_file(src + "/tokenizer_config.json"));
  tokenizer::HfTokenizer tok(dir + "/tokenizer.json", config);

  std::vector<std::string> strings = {
      "[INST] Hello there [/INST] General Kenobi</s>", "  [INST]   spaced   [/INST]  ", "<s>[INST] hi [/INST]",
      "call <tool>  now", "a<tool>b", "<tool>", "  <tool>  ", "Hello", " Hello", "  Hello  ", "x [/INST]y",
      "[INST][INST]", "\n[INST]\n", "unicode ünïcödé [INST] 🦙", "</s>tail", "head</s>",
  };
  for (std::string& s : crosscheck_strings()) strings.push_back(std::move(s));
  expect_same_as_tokenizers_js(tok, dir, strings);
}

}  // namespace
}  // namespace nibble
