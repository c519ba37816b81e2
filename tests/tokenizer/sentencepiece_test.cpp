// The bundled SentencePiece tokenizer through nibble's wrapper, against the
// sentencepiece command-line encoder (spm_encode) on every line of eval.txt
// and against the counts in reference.json for the whole file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/files.h"
#include "io/model_source.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble {
namespace {

std::unique_ptr<tokenizer::Tokenizer> bundled_tokenizer() {
  return tokenizer::load_tokenizer(io::open_model(test::bundled_model()));
}

TEST(SentencePieceTokenizer, EveryLineOfEvalTextMatchesSpmEncode) {
  const std::string eval = test::testdata("kjv/eval.txt");
  std::string out;
  ASSERT_EQ(test::run_command("spm_encode --model=" + test::bundled_model() +
                                  "/tokenizer.model --output_format=id < " + eval,
                              &out),
            0)
      << "spm_encode (Debian package sentencepiece) is needed: " << out;
  auto tok = bundled_tokenizer();
  std::istringstream text(read_text_file(eval)), expected(out);
  std::string line, ids_line;
  int lines = 0;
  while (std::getline(text, line)) {
    ASSERT_TRUE(std::getline(expected, ids_line));
    std::vector<int> ids;
    std::istringstream in(ids_line);
    for (int id; in >> id;) ids.push_back(id);
    ASSERT_EQ(tok->encode(line, false), ids) << "line " << lines;
    ++lines;
  }
  EXPECT_FALSE(std::getline(expected, ids_line)) << "spm_encode printed more lines than the text has";
  EXPECT_GT(lines, 50);  // eval.txt: one chapter per line
}

TEST(SentencePieceTokenizer, WholeEvalFileGivesTheReferenceWindowCount) {
  // reference.json scores floor(N / 256) windows x 255 predictions of [BOS] + encode(file).
  auto tok = bundled_tokenizer();
  const auto ids = tok->encode(read_text_file(test::testdata("kjv/eval.txt")), true);
  const auto ref = nlohmann::json::parse(read_text_file(test::bundled_model() + "/reference.json"));
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(int64_t(ids.size() / 256 * 255), ref["eval_ppl_tokens_scored"].get<int64_t>());
}

TEST(SentencePieceTokenizer, DecodeInvertsEncodeAndDropsSpecials) {
  auto tok = bundled_tokenizer();
  const std::string s = "And the LORD said unto Moses, Go up.";
  const auto ids = tok->encode(s, true);
  EXPECT_EQ(ids.front(), tok->bos_id());
  EXPECT_EQ(tok->decode(ids), s);
  EXPECT_TRUE(tok->is_eos(2));
}

TEST(SentencePieceTokenizer, StreamDecoderKeepsSpacesAfterThePrompt) {
  auto tok = bundled_tokenizer();
  const auto prompt = tok->encode("In the beginning", true);
  const auto rest = tok->encode("In the beginning of the LORD", true);
  tokenizer::StreamDecoder stream(*tok, prompt);
  std::string out;
  for (size_t i = prompt.size(); i < rest.size(); ++i) out += stream.push(rest[i]);
  out += stream.flush();
  EXPECT_EQ(out, " of the LORD");
}

}  // namespace
}  // namespace nibble
