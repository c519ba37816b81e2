// tokenizer.json components on their own, against the behaviour tokenizers
// (Rust) documents: Split's delimiter behaviours, Digits, ByteLevel,
// Metaspace, the decoders, and the BPE merge order.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "test_paths.h"
#include "tokenizer/hf_decoder.h"
#include "tokenizer/hf_pre_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"

namespace nibble {
namespace {

using tokenizer::PreToken;

std::vector<std::string> pre_tokenize(const std::string& config, const std::string& text) {
  const auto pre = tokenizer::make_pre_tokenizer(nlohmann::json::parse(config), "test");
  std::vector<PreToken> pieces{{text, true}};
  pre->pre_tokenize(pieces);
  std::vector<std::string> out;
  for (const auto& p : pieces) out.push_back(p.text);
  return out;
}

std::string decode_chain(const std::string& config, std::vector<std::string> pieces) {
  tokenizer::make_decoder(nlohmann::json::parse(config), "test")->decode_chain(pieces);
  std::string out;
  for (const auto& p : pieces) out += p;
  return out;
}

using Pieces = std::vector<std::string>;

TEST(HfComponents, SplitBehavioursFollowTokenizersDocs) {
  const auto split = [](const std::string& behavior) {
    return pre_tokenize(R"({"type": "Split", "pattern": {"String": "-"}, "invert": false, "behavior": ")" + behavior +
                            "\"}",
                        "the-final--countdown");
  };
  EXPECT_EQ(split("Removed"), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Pieces{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(pre_tokenize(R"({"type": "Split", "pattern": {"Regex": "\\s+"}, "invert": true, "behavior": "Removed"})",
                         "keep  these\twords"),
            (Pieces{"  ", "\t"}));
}

// \s is Unicode White_Space, as in Oniguruma: not U+180E (PCRE2's own \s takes it).
TEST(HfComponents, RegexWhitespaceIsUnicodeWhiteSpace) {
  const auto split = [](const std::string& regex, const std::string& text) {
    return pre_tokenize(
        nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Removed"}, {"invert", false}}
            .dump(),
        text);
  };
  EXPECT_EQ(split(R"(\s+)", "a\u180Eb\u2009c\u0085d"), (Pieces{"a\u180Eb", "c", "d"}));
  EXPECT_EQ(split(R"([\s,]+)", "a, b\u180E,c"), (Pieces{"a", "b\u180E", "c"}));
  EXPECT_EQ(split(R"(\S+)", "a\u180E b"), (Pieces{" "}));
  EXPECT_EQ(split(R"([^\s]+)", "x\u180E\u3000y"), (Pieces{"\u3000"}));
}

TEST(HfComponents, DigitsByteLevelAndMetaspacePreTokenizers) {
  EXPECT_EQ(pre_tokenize(R"({"type": "Digits", "individual_digits": false})", "ab123c45"),
            (Pieces{"ab", "123", "c", "45"}));
  EXPECT_EQ(pre_tokenize(R"({"type": "Digits", "individual_digits": true})", "a12"), (Pieces{"a", "1", "2"}));
  EXPECT_EQ(pre_tokenize(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})", "Hello world\n"),
            (Pieces{"\xC4\xA0Hello", "\xC4\xA0world", "\xC4\x8A"}));  // ĠHello Ġworld Ċ
  EXPECT_EQ(pre_tokenize(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true})",
                         "Hey  friend"),
            (Pieces{"▁Hey", "▁", "▁friend"}));
  EXPECT_EQ(pre_tokenize(R"({"type": "Metaspace", "replacement": "▁", "add_prefix_space": false})", "a b"),
            (Pieces{"a", "▁b"}));
}

TEST(HfComponents, Decoders) {
  // tokenizers' Metaspace decoder drops every "▁" of the first piece.
  EXPECT_EQ(decode_chain(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"})",
                         {"▁▁Hey", "▁friend"}),
            "Hey friend");
  EXPECT_EQ(decode_chain(R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"})", {"▁Hey"}),
            " Hey");
  EXPECT_EQ(decode_chain(R"({"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
                {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})",
                         {"▁Hi", "<0xE2>", "<0x9C>", "<0x85>", "▁", "<0x0A>", "<0xZZ>"}),
            "Hi\xE2\x9C\x85 \n<0xZZ>");
  EXPECT_EQ(decode_chain(R"({"type": "ByteLevel"})", {"\xC4\xA0Hello", "\xC4\x8A", "<|im_end|>", "ä¸Ń"}),
            " Hello\n<|im_end|>\xE4\xB8\xAD");  // "ä¸Ń" is the byte-level form of 中
}

// A tiny vocabulary where merge order, not greediness, decides the pieces.
TEST(HfComponents, BpeAppliesMergesByRankAndFallsBackToUnknown) {
  const std::string dir = test::temp_dir("tiny-bpe");
  write_text_file_atomically(dir + "/tokenizer.json", R"({
    "added_tokens": [{"id": 9, "content": "<unk>", "special": true, "normalized": false, "lstrip": false,
                      "rstrip": false, "single_word": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Removed", "invert": false},
    "post_processor": null, "decoder": {"type": "Fuse"},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
      "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "<unk>": 9},
      "merges": [["b", "c"], "a b", ["a", "bc"]]}})");
  tokenizer::HfTokenizer tok(dir + "/tokenizer.json", nullptr);
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int>{5}));     // b+c first, then a+bc
  EXPECT_EQ(tok.encode("abab", false), (std::vector<int>{3, 3}));
  EXPECT_EQ(tok.encode("axyb c", false), (std::vector<int>{0, 9, 1, 2}));  // x and y fuse into one <unk>
  EXPECT_EQ(tok.decode({3, 9, 4}), "abbc");                               // <unk> is special: dropped
  EXPECT_EQ(tok.decode({3, 9, 4}, true), "ab<unk>bc");
}

}  // namespace
}  // namespace nibble
