#include "cli/quantize_gguf.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "formats/gguf_gptq_codec.h"
#include "formats/gguf_model_writer.h"
#include "io/gguf_model.h"
#include "io/model_source.h"
#include "lora/peft_adapter.h"
#include "quant/calibration.h"
#include "quant/imatrix.h"
#include "quant/layer_pipeline.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::cli {

namespace {

// GPTQ over the whole model, each linear's codes encoded into `type` blocks.
std::map<std::string, formats::GgufPrecomputedTensor> gptq_linears(const io::ModelSource& src,
                                                                  const GgufQuantizeRequest& r,
                                                                  io::GgmlType type,
                                                                  const formats::GgufWeightAdjuster& adjust) {
  std::string calib_file = r.calib;
  if (calib_file.empty() && file_exists(join_path(src.directory, "calibration.txt")))
    calib_file = join_path(src.directory, "calibration.txt");
  NIBBLE_CHECK(!calib_file.empty(), "GPTQ needs calibration text: pass --calib FILE; ", r.model,
               " has no calibration.txt");
  auto tok = tokenizer::load_tokenizer(src);
  const quant::CalibrationSet calib = quant::load_calibration(
      {calib_file, r.nsamples, r.seqlen, r.seed}, *tok, src.config.max_position_embeddings,
      src.config.vocab_size);
  std::printf("calibration: %s\n", calib.description.c_str());

  quant::GptqOptions g = formats::gptq_options_for_gguf(type);
  g.damp = r.damp;
  g.clip_search = r.clip;
  quant::PipelineOptions po;
  po.bits = g.bits;
  po.group_size = g.group_size;
  po.symmetric = g.symmetric;
  po.adjust_weight = adjust;
  std::map<std::string, formats::GgufPrecomputedTensor> out;
  Progress progress("gptq", src.config.num_layers, "layers");
  quant::run_layer_pipeline(
      src, calib.samples, po,
      [&](const std::string&, const std::vector<float>& W, int64_t rows, int64_t cols,
          const quant::HessianAccumulator* h) { return quant::gptq_quantize(W.data(), rows, cols, h->hessian(), g); },
      [](int layer) -> quant::LayerResult { fail("internal: no layer ", layer, " to replay"); },
      [&](quant::LayerResult&& layer) {
        for (const auto& [prefix, q] : layer.linears) {
          const std::string name = *io::gguf_name_for(prefix + ".weight");
          out[name] = formats::encode_gptq_as_gguf(q, type, name);
        }
        for (const auto& rep : layer.reports)
          std::printf("  %-36s output error %.5f (rtn %.5f)\n", rep.name.c_str(), rep.relative_error,
                      rep.rtn_relative_error);
        std::fflush(stdout);
        progress.update(layer.layer + 1);
      });
  progress.finish();
  return out;
}

}  // namespace

void quantize_to_gguf(const GgufQuantizeRequest& r) {
  const auto start = std::chrono::steady_clock::now();
  NIBBLE_CHECK(r.method == "llama.cpp" || r.method == "gptq", "--format gguf: --method must be gptq ",
               "(or left out for llama.cpp's own quantizers), got '", r.method, "'");
  const formats::GgufFileType& ftype = formats::gguf_file_type(r.type);
  const io::ModelSource src = io::open_model(r.model);
  NIBBLE_CHECK(src.format == "hf", r.model, ": quantize reads Hugging Face checkpoints");

  formats::GgufExportOptions options;
  options.file_type = &ftype;
  std::unique_ptr<lora::PeftAdapter> adapter;
  if (!r.adapter.empty()) {
    // Every tensor passes through f32 on its way into blocks, so the adapter
    // may change any linear (lm_head included), unlike the GPTQ/AWQ layouts.
    adapter = std::make_unique<lora::PeftAdapter>(r.adapter);
    adapter->check_against(*src.weights);
    options.adjust_weight = [&adapter](const std::string& name, float* W, int64_t rows, int64_t cols) {
      adapter->merge_into_tensor(name, W, rows, cols);
    };
    std::printf("LoRA adapter: %zu modules (r %d, scaling %.4g), merged into each tensor as it is read\n",
                adapter->modules().size(), adapter->config().r, adapter->config().scaling());
  }
  if (r.method == "gptq") options.precomputed = gptq_linears(src, r, ftype.base, options.adjust_weight);
  std::map<std::string, std::vector<float>> importance;
  if (!r.imatrix.empty()) {
    importance = quant::read_imatrix(r.imatrix);
    std::printf("imatrix: %zu entries from %s\n", importance.size(), r.imatrix.c_str());
    options.importance = [&](const std::string& name) -> const std::vector<float>* {
      auto it = importance.find(name);
      return it == importance.end() ? nullptr : &it->second;
    };
  }
  const std::vector<std::string> names = formats::gguf_export_tensor_names(src);
  Progress progress("write gguf", int64_t(names.size()), "tensors");
  int64_t done = 0;
  options.on_tensor = [&](const std::string& name) { progress.update(++done, name); };
  const formats::GgufExportSummary s = formats::write_gguf_model(src, r.out, options);
  progress.finish();

  std::string types;
  for (const auto& [type, n] : s.tensors_per_type) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + type;
  const size_t before = src.weights->total_bytes();
  std::printf("wrote %s (%s%s): %d tensors: %s\n", r.out.c_str(), ftype.name,
              r.method == "gptq" ? ", GPTQ codes" : "", s.tensor_count, types.c_str());
  std::printf("size: %.2f MiB -> %.2f MiB (%.2fx smaller)\n", before / 1048576.0, s.file_bytes / 1048576.0,
              double(before) / double(s.file_bytes));
  std::printf("bits per weight: %.3f in the 2-D weights; %.3f over the whole file\n",
              s.linear_bits / s.linear_weights, 8.0 * double(s.file_bytes) / double(src.config.parameter_count()));
  std::printf("wall time: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace nibble::cli
