// nibble merge-lora: a PEFT LoRA adapter merged into its base model, written
// as a plain Hugging Face checkpoint.
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"
#include "io/model_source.h"
#include "lora/merge.h"

namespace nibble::cli {

void add_merge_lora(CLI::App& app) {
  struct Options {
    std::string model, adapter, out, dtype = "bf16";
  };
  auto o = std::make_shared<Options>();
  CLI::App* verb = app.add_subcommand("merge-lora", "merge a PEFT LoRA adapter into its base model");
  verb->add_option("-m,--model", o->model, "base model (Hugging Face directory)")->required();
  verb->add_option("--adapter", o->adapter, "PEFT adapter directory (adapter_config.json, "
                   "adapter_model.safetensors)")->required();
  verb->add_option("-o,--output", o->out, "output directory")->required();
  verb->add_option("--dtype", o->dtype, "dtype of the merged weights: bf16 or f32")
      ->check(CLI::IsMember({"bf16", "f32"}));
  verb->callback([o] {
    const io::ModelSource base = io::open_model(o->model);
    const lora::PeftAdapter adapter(o->adapter);
    lora::write_merged_model(base, adapter, o->out, o->dtype == "f32" ? DType::F32 : DType::BF16);
    std::printf("merged %zu modules (r %d, scaling %.4g) into %s\n", adapter.modules().size(),
                adapter.config().r, adapter.config().scaling(), o->out.c_str());
  });
}

}  // namespace nibble::cli
