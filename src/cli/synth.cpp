// nibble synth: write a random-weight checkpoint of a real model shape.
#include <chrono>
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"
#include "core/parallel.h"
#include "model/synthetic.h"

namespace nibble::cli {

void add_synth(CLI::App& app) {
  struct Options {
    std::string shape = "1b";
    std::string out;
    uint64_t seed = 0;
    int threads = 0;
    bool list = false;
  };
  auto o = std::make_shared<Options>();
  std::string shapes;
  for (const auto& s : model::synthetic_shapes())
    shapes += "\n  " + s.name + ": " + s.description;
  CLI::App* verb = app.add_subcommand(
      "synth", "write a random-weight HF checkpoint of a real model shape (for benchmarks)");
  verb->add_option("--shape", o->shape, "model shape:" + shapes);
  verb->add_option("-o,--output", o->out, "output directory");
  verb->add_option("--seed", o->seed, "random seed");
  verb->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  verb->add_flag("--list", o->list, "list the shapes and exit");
  verb->callback([o] {
    if (o->list) {
      for (const auto& s : model::synthetic_shapes())
        std::printf("%-6s %s (%.1fM parameters)\n", s.name.c_str(), s.description.c_str(),
                    s.config.parameter_count() / 1e6);
      return;
    }
    NIBBLE_CHECK(!o->out.empty(), "synth needs -o DIR");
    set_num_threads(o->threads);
    const model::SyntheticShape& shape = model::find_synthetic_shape(o->shape);
    const double params = double(shape.config.parameter_count());
    std::printf("writing %s (%s): %.0fM parameters, %.2f GB in BF16 ...\n", o->out.c_str(),
                shape.name.c_str(), params / 1e6, params * 2 / 1e9);
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    model::write_synthetic_checkpoint(shape.config, o->out, o->seed);
    std::printf("done in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
}

}  // namespace nibble::cli
