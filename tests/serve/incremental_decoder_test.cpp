// IncrementalDecoder: generated ids to text token by token, with characters
// split over byte-fallback tokens emitted once, whole.
#include "serve/incremental_decoder.h"

#include <gtest/gtest.h>

#include "io/model_source.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::serve {
namespace {

TEST(ServeIncrementalDecoder, EmitsWholeCharactersTokenByToken) {
  const io::ModelSource source = io::open_model(test::bundled_model());
  const auto tok = tokenizer::load_tokenizer(source);
  const std::vector<int> prompt = tok->encode("In the beginning", true);
  std::string text;
  for (int i = 0; i < 12; ++i)
    text += "And God said, Let there be light: and there was light — «naïve» 北京 🙂. ";
  const std::vector<int> generated = tok->encode(text, false);
  ASSERT_GT(generated.size(), 200u);

  // Token by token: only whole characters, never a replacement character.
  IncrementalDecoder decoder(*tok, prompt);
  std::string all;
  for (size_t i = 0; i < generated.size(); ++i) {
    const std::string piece = decoder.push(generated[i]);
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << "token " << i;
    all += piece;
  }
  all += decoder.flush();
  EXPECT_EQ(all, " " + text);

  // A stream cut inside a character releases its bytes at the end.
  const std::vector<int> smile = tok->encode("🙂", false);
  IncrementalDecoder cut(*tok, prompt);
  std::string partial;
  for (size_t i = 0; i + 1 < smile.size(); ++i) partial += cut.push(smile[i]);
  EXPECT_EQ(partial, smile.size() > 2 ? " " : "");
  EXPECT_FALSE(cut.flush().empty());
}

}  // namespace
}  // namespace nibble::serve
