// What the HTTP handlers share: the options the server was started with and
// the parts that do the work (tokenizer, prompt builder, scheduler, metrics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/sampler.h"
#include "serve/metrics.h"
#include "serve/prompt_builder.h"
#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace nibble::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                    // 0: any free port
  std::vector<std::string> api_keys;  // empty: no auth
  std::string served_model_name;
  std::vector<std::string> model_aliases;  // also accepted as `model`
  bool accept_any_model = false;
  bool metrics_need_key = false;
  size_t max_body_bytes = 8u << 20;
  int http_threads = 0;  // 0: enough for max_batch + max_queue connections
};

struct ServeContext {
  ServeOptions options;
  const tokenizer::Tokenizer& tokenizer;
  const PromptBuilder& prompts;
  Scheduler& scheduler;
  Metrics& metrics;
  model::SamplingParams sampling_defaults;
  int vocab = 0;        // the model's vocabulary (token ids below it are valid)
  int64_t created = 0;  // when the server started (Unix seconds), for /v1/models
};

}  // namespace nibble::serve
