// nibble ppl: perplexity of a model on a text file, with the windowing stated.
#include <cstdio>

#include "cli/model_loading.h"
#include "cli/verbs.h"
#include "core/files.h"
#include "core/parallel.h"
#include "eval/perplexity.h"

namespace nibble::cli {

void add_ppl(CLI::App& app) {
  struct Options {
    RunOptions run;
    std::string file;
    eval::PerplexityOptions ppl;
  };
  auto o = std::make_shared<Options>();
  CLI::App* verb = app.add_subcommand("ppl", "measure perplexity on a text file");
  add_run_options(*verb, o->run);
  verb->add_option("-f,--file", o->file, "text file (read whole, tokenized as one string with BOS)")
      ->required();
  verb->add_option("--ctx", o->ppl.ctx, "window length in tokens (default: the model's context)")
      ->check(CLI::Range(0, 1 << 20));
  verb->add_option("--stride", o->ppl.stride,
                   "start a window every N tokens (default: --ctx, non-overlapping)")
      ->check(CLI::Range(0, 1 << 20));
  verb->add_option("--max-windows", o->ppl.max_windows, "score only the first N windows (0: all)")
      ->check(CLI::Range(0, 1 << 30));
  verb->callback([o] {
    apply_run_options(o->run);
    LoadedModel m = load_model(o->run, true);
    const std::string text = read_text_file(o->file);
    const std::vector<int> tokens = m.tokenizer->encode(text, true);
    eval::PerplexityOptions opts = o->ppl;
    if (opts.ctx <= 0) opts.ctx = std::min(m.source.config.max_position_embeddings, 4096);
    if (opts.stride <= 0) opts.stride = opts.ctx;
    std::printf("model: %s (%s)\n", o->run.model.c_str(), m.model->weight_formats().c_str());
    std::printf("text: %s\n", o->file.c_str());
    std::printf("windowing: %s\n", eval::describe_windowing(int64_t(tokens.size()), opts).c_str());
    std::fflush(stdout);
    const eval::PerplexityResult r = eval::perplexity(*m.model, tokens, opts);
    std::printf("perplexity: %.4f (mean NLL %.5f over %lld predictions in %d windows, %.1f s, "
                "%.0f tokens/s, %d threads)\n",
                r.perplexity, r.mean_nll, (long long)r.tokens_scored, r.windows, r.seconds,
                double(r.windows) * opts.ctx / r.seconds, num_threads());
  });
}

}  // namespace nibble::cli
