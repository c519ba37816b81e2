#include "cli/verbs.h"

namespace nibble::cli {

void add_generate(CLI::App& app);
void add_ppl(CLI::App& app);
void add_inspect(CLI::App& app);
void add_synth(CLI::App& app);
void add_bench(CLI::App& app);
void add_quantize(CLI::App& app);
void add_serve(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_merge_lora(CLI::App& app);

void register_verbs(CLI::App& app) {
  add_generate(app);
  add_ppl(app);
  add_bench(app);
  add_quantize(app);
  add_inspect(app);
  add_synth(app);
  add_serve(app);
  add_imatrix(app);
  add_merge_lora(app);
}

}  // namespace nibble::cli
