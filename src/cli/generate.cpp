// nibble generate: stream a continuation of a prompt, then report speed.
#include <cstdio>

#include "cli/model_loading.h"
#include "cli/verbs.h"
#include "core/parallel.h"
#include "model/generate.h"

namespace nibble::cli {

void add_generate(CLI::App& app) {
  struct Options {
    RunOptions run;
    std::string prompt;
    int n = 64;
    int ctx = 0;
    model::SamplingParams sampling;
    bool greedy = false;
    bool show_ids = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* verb = app.add_subcommand("generate", "continue a prompt and print the text");
  add_run_options(*verb, o->run);
  verb->add_option("-p,--prompt", o->prompt, "prompt text")->required();
  verb->add_option("-n,--max-tokens", o->n, "tokens to generate")->check(CLI::Range(1, 1 << 20));
  verb->add_option("--ctx", o->ctx, "context length (default: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 20));
  verb->add_option("--temp,--temperature", o->sampling.temperature, "sampling temperature (0: greedy)");
  verb->add_option("--top-k", o->sampling.top_k, "keep the k most likely tokens (0: off)");
  verb->add_option("--top-p", o->sampling.top_p, "nucleus sampling mass (1: off)");
  verb->add_option("--min-p", o->sampling.min_p, "drop tokens below min-p x the best (0: off)");
  verb->add_option("--repeat-penalty", o->sampling.repetition_penalty,
                   "penalty for tokens seen in the last 64 (1: off)");
  verb->add_option("--seed", o->sampling.seed, "random seed (same seed, same text)");
  verb->add_flag("--greedy", o->greedy, "always take the most likely token (same as --temp 0)");
  verb->add_flag("--ids", o->show_ids, "also print the prompt and generated token ids");
  verb->callback([o] {
    apply_run_options(o->run);
    if (o->greedy) o->sampling.temperature = 0;
    o->sampling.validate();
    LoadedModel m = load_model(o->run, true);
    const std::vector<int> prompt = m.tokenizer->encode(o->prompt, true);
    const int ctx = o->ctx > 0 ? o->ctx : std::min(m.source.config.max_position_embeddings, 4096);
    model::KVCache cache(m.source.config, 1, ctx);
    model::Sampler sampler(o->sampling);
    tokenizer::StreamDecoder stream(*m.tokenizer, prompt);
    std::vector<int> generated;
    model::GenerationRequest req;
    req.prompt = prompt;
    req.max_tokens = o->n;
    req.is_end = [&](int id) { return m.tokenizer->is_eos(id); };
    req.on_token = [&](int id) {
      generated.push_back(id);
      std::fputs(stream.push(id).c_str(), stdout);
      std::fflush(stdout);
      return true;
    };
    std::fputs(o->prompt.c_str(), stdout);
    std::fflush(stdout);
    const model::GenerationStats s = model::generate(*m.model, cache, sampler, req);
    std::fputs(stream.flush().c_str(), stdout);
    std::printf("\n");
    if (o->show_ids) {
      std::printf("prompt ids:");
      for (int id : prompt) std::printf(" %d", id);
      std::printf("\ngenerated ids:");
      for (int id : generated) std::printf(" %d", id);
      std::printf("\n");
    }
    std::fflush(stdout);
    std::fprintf(stderr,
                 "prefill: %d tokens, %.1f tokens/s | decode: %d tokens, %.1f tokens/s | %d threads\n",
                 s.prompt_tokens, s.prefill_tokens_per_second(), s.generated_tokens,
                 s.decode_tokens_per_second(), num_threads());
  });
}

}  // namespace nibble::cli
