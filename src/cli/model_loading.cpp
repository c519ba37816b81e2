#include "cli/model_loading.h"

#include <chrono>

#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_linear_loader.h"
#include "formats/linear_loaders.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::cli {

LoadedModel load_model(const std::string& path, bool with_tokenizer) {
  const auto start = std::chrono::steady_clock::now();
  LoadedModel m;
  m.source = io::open_model(path);
  formats::dequantize_gguf_embedding(m.source);
  m.model = std::make_unique<model::LlamaModel>(m.source.config, m.source.weights,
                                                formats::linear_loader_for(m.source));
  if (with_tokenizer) {
    m.tokenizer = tokenizer::load_tokenizer(m.source);
    NIBBLE_CHECK(m.tokenizer->vocab_size() <= m.source.config.vocab_size, path, ": the tokenizer has ",
                 m.tokenizer->vocab_size(), " tokens but the model only ", m.source.config.vocab_size);
  }
  m.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

void add_run_options(CLI::App& verb, RunOptions& o) {
  verb.add_option("-m,--model", o.model, "model directory (Hugging Face), .gguf file or llama2.c .bin file")
      ->required();
  verb.add_option("-t,--threads", o.threads, "threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
}

void apply_run_options(const RunOptions& o) { set_num_threads(o.threads); }

}  // namespace nibble::cli
