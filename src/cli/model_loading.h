// Opening a model for the verbs that run one: the source files, the model
// with each linear in its runtime format, and the tokenizer.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "io/model_source.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace nibble::cli {

struct LoadedModel {
  io::ModelSource source;
  std::unique_ptr<model::LlamaModel> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;  // null when not asked for
  double load_seconds = 0;
};

// -m/--model, -t/--threads and bitsandbytes-style quantization at load
// time, shared by every verb that runs a model.
struct RunOptions {
  std::string model;
  int threads = 0;
  bool load_in_8bit = false, load_in_4bit = false, double_quant = false;
  std::string bnb_4bit_quant_type = "nf4";
};

LoadedModel load_model(const std::string& path, bool with_tokenizer,
                       const RunOptions& options = {});
inline LoadedModel load_model(const RunOptions& options, bool with_tokenizer) {
  return load_model(options.model, with_tokenizer, options);
}
void add_run_options(CLI::App& verb, RunOptions& options);
void apply_run_options(const RunOptions& options);  // sets the thread count

}  // namespace nibble::cli
