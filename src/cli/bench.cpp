// nibble bench: prefill and decode speed of a model at 1 thread and all
// threads, the weight bandwidth decode achieves, and peak memory.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "cli/model_loading.h"
#include "cli/verbs.h"
#include "core/cpu.h"
#include "core/parallel.h"
#include "model/generate.h"

namespace nibble::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double peak_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

struct Speed {
  double prefill = 0, decode = 0;
};

// Random prompt ids (the benchmark needs no tokenizer), then greedy decode
// fed back token by token; the best of `repeats` runs of each phase.
Speed measure(model::LlamaModel& m, int prompt_len, int decode_len, int repeats) {
  std::mt19937 rng(42);
  std::vector<int> prompt(static_cast<size_t>(prompt_len));
  for (int& t : prompt) t = int(rng() % uint32_t(m.vocab_size()));
  model::KVCache cache(m.config(), 1, prompt_len + decode_len + 1);
  std::vector<float> logits(size_t(m.vocab_size()));
  Speed best;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    model::prefill(m, cache, 0, prompt, 0, logits.data());
    best.prefill = std::max(best.prefill, prompt_len / seconds_since(t0));
    std::vector<model::BatchToken> step(1);
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < decode_len; ++i) {
      step[0] = {model::argmax(logits.data(), m.vocab_size()), prompt_len + i, 0, true};
      m.forward(step, cache, logits.data());
    }
    best.decode = std::max(best.decode, decode_len / seconds_since(t1));
  }
  return best;
}

}  // namespace

void add_bench(CLI::App& app) {
  struct Options {
    RunOptions run;
    int prompt = 512;
    int decode = 128;
    int repeats = 2;
  };
  auto o = std::make_shared<Options>();
  CLI::App* verb = app.add_subcommand("bench", "measure prefill and decode tokens/s");
  add_run_options(*verb, o->run);
  verb->add_option("--prompt-tokens", o->prompt, "prompt length for prefill")
      ->check(CLI::Range(1, 1 << 16));
  verb->add_option("--decode-tokens", o->decode, "tokens to decode")->check(CLI::Range(1, 1 << 16));
  verb->add_option("--repeats", o->repeats, "runs per measurement (best is reported)")
      ->check(CLI::Range(1, 100));
  verb->callback([o] {
    apply_run_options(o->run);
    const int all = num_threads();
    LoadedModel m = load_model(o->run, false);
    const double weight_gb = double(m.model->weight_bytes()) / 1e9;
    std::printf("model: %s (%s), %.3f GB of weights read per token\n", o->run.model.c_str(),
                m.model->weight_formats().c_str(), weight_gb);
    std::printf("kernels: %s, load %.2f s\n", isa_label(best_isa()), m.load_seconds);
    std::printf("%-8s %18s %18s %16s\n", "threads", "prefill tok/s", "decode tok/s",
                "decode GB/s");
    std::vector<int> counts = {1};
    if (all > 1) counts.push_back(all);
    for (int threads : counts) {
      set_num_threads(threads);
      const Speed s = measure(*m.model, o->prompt, o->decode, o->repeats);
      std::printf("%-8d %18.1f %18.2f %16.2f\n", threads, s.prefill, s.decode,
                  s.decode * weight_gb);
      std::fflush(stdout);
    }
    std::printf("prompt %d tokens, decode %d tokens, best of %d; peak RSS %.0f MiB\n", o->prompt,
                o->decode, o->repeats, peak_rss_mib());
  });
}

}  // namespace nibble::cli
