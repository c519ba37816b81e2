#include "quant/calibration.h"

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace nibble::quant {

namespace {

bool looks_like_json_lines(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && (text[first] == '{' || text[first] == '[' || text[first] == '"');
}

std::vector<int> tokens_of_json_lines(const std::string& text, const std::string& path,
                                      const tokenizer::Tokenizer& tok, int vocab) {
  std::vector<int> ids;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    NIBBLE_CHECK(!j.is_discarded(), path, ":", line_no, ": not valid JSON");
    if (j.is_object() && j.contains("text")) j = j["text"];
    if (j.is_object() && j.contains("input_ids")) j = j["input_ids"];
    if (j.is_string()) {
      const auto t = tok.encode(j.get<std::string>(), true);
      ids.insert(ids.end(), t.begin(), t.end());
    } else if (j.is_array()) {
      for (const auto& v : j) {
        NIBBLE_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < vocab,
                     path, ":", line_no, ": token ids must be integers in [0, ", vocab, ")");
        ids.push_back(v.get<int>());
      }
    } else {
      fail(path, ":", line_no, ": expected a string, {\"text\": ...}, a list of ids or {\"input_ids\": ...}");
    }
  }
  return ids;
}

}  // namespace

CalibrationSet load_calibration(const CalibrationOptions& o, const tokenizer::Tokenizer& tok,
                                int max_context, int vocab) {
  NIBBLE_CHECK(o.nsamples > 0 && o.nsamples <= 100000, "--nsamples must be in 1..100000, got ",
               o.nsamples);
  NIBBLE_CHECK(o.seqlen > 1, "--seqlen must be at least 2, got ", o.seqlen);
  const std::string text = read_text_file(o.file);
  const std::vector<int> ids = looks_like_json_lines(text)
                                   ? tokens_of_json_lines(text, o.file, tok, vocab)
                                   : tok.encode(text, true);
  const int seqlen = std::min(o.seqlen, max_context);
  NIBBLE_CHECK(int64_t(ids.size()) >= seqlen, o.file, ": has ", ids.size(),
               " tokens, fewer than one window of ", seqlen);
  CalibrationSet set;
  set.source_tokens = int64_t(ids.size());
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int64_t> start(0, int64_t(ids.size()) - seqlen);
  for (int i = 0; i < o.nsamples; ++i) {
    const int64_t s = start(rng);
    set.samples.emplace_back(ids.begin() + s, ids.begin() + s + seqlen);
  }
  set.description = cat(o.nsamples, " windows of ", seqlen, " tokens (seed ", o.seed, ") from ",
                        o.file, " (", ids.size(), " tokens)",
                        seqlen < o.seqlen ? cat(", seqlen clamped to the context of ", max_context) : "");
  return set;
}

}  // namespace nibble::quant
