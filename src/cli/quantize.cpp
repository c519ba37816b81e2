// nibble quantize: RTN, GPTQ, AWQ or AWQ+GPTQ, layer by layer, into a
// GPTQ-layout or AutoAWQ GEMM checkpoint (AutoGPTQ/AutoAWQ/vLLM/transformers
// load them), resumable after a kill.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/quantize_bnb.h"
#include "cli/quantize_gguf.h"
#include "cli/verbs.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/files.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "formats/awq_checkpoint.h"
#include "formats/gptq_checkpoint.h"
#include "io/model_source.h"
#include "lora/peft_adapter.h"
#include "quant/awq.h"
#include "quant/calibration.h"
#include "quant/layer_pipeline.h"
#include "quant/rtn.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::cli {

namespace {

struct QuantizeOptions {
  std::string model, out, method = "gptq", calib, gguf_type = "Q4_K_M", imatrix, adapter;
  std::string format;  // "": awq for AWQ when the GEMM layout can hold it, gptq otherwise; or gguf
  int bits = 4, group_size = 128, nsamples = 128, threads = 0, lm_head_bits = 0;
  int seqlen = 0;  // 0: the method's default (512 for AWQ as in AutoAWQ, 2048 otherwise)
  bool sym = false, act_order = false, static_groups = false, resume = false, double_quant = false;
  int clip = -1;  // -1: the method's default (on for GPTQ and AWQ, off for RTN)
  bool awq_clip = false;  // AWQ+GPTQ: run AWQ's clipping search too
  bool fp_inputs = false;
  int64_t awq_search_tokens = quant::AwqOptions{}.search_tokens;
  double damp = 0.01;
  uint64_t seed = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// lm_head (or the tied embedding it reads) by round-to-nearest: its input is
// the final norm's output, which the layer pipeline does not calibrate.
void quantize_lm_head(const io::ModelSource& src, const QuantizeOptions& o,
                      formats::CheckpointWriter& writer) {
  const io::ModelConfig& c = src.config;
  const std::string name =
      src.weights->has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  const TensorView& w = src.weights->get(name);
  NIBBLE_CHECK(formats::gptq_exportable(c.hidden_size, c.vocab_size), name, ": ", c.vocab_size, " x ",
               c.hidden_size, " cannot be packed in GPTQ layout (dimensions must be multiples of 32)");
  std::vector<float> W(static_cast<size_t>(c.vocab_size * c.hidden_size));
  convert_to_f32(w.dtype, w.data, W.data(), W.size());
  const auto t0 = std::chrono::steady_clock::now();
  writer.write_lm_head(quant::rtn_quantize(W.data(), c.vocab_size, c.hidden_size,
                                           {o.lm_head_bits, o.group_size, o.sym, false}));
  std::printf("  %-36s rtn %d-bit %6.2f s\n", "lm_head", o.lm_head_bits, seconds_since(t0));
}

// The adapter, checked against the base model. The pipeline merges it into
// each decoder layer's linears as it reads the layer; every other tensor is
// copied (or, lm_head, quantized) from the base as stored, so an adapter for
// any other module is refused rather than silently dropped (--format gguf
// quantizes every tensor from f32 and merges into any of them).
std::unique_ptr<lora::PeftAdapter> open_adapter(const QuantizeOptions& o, const io::ModelSource& base) {
  auto adapter = std::make_unique<lora::PeftAdapter>(o.adapter);
  adapter->check_against(*base.weights);
  std::set<std::string> layer_linears;
  for (int l = 0; l < base.config.num_layers; ++l)
    for (const char* name : quant::kLayerLinears) layer_linears.insert("model.layers." + std::to_string(l) + "." + name);
  for (const auto& [module, pair] : adapter->modules())
    NIBBLE_CHECK(layer_linears.count(module), o.adapter, ": the adapter changes '", module,
                 "'; quantize --adapter merges only into the decoder layers' q/k/v/o/gate/up/down "
                 "projections: run `nibble merge-lora -m ", o.model, " --adapter ", o.adapter,
                 " -o MERGED` first and quantize MERGED (--format gguf merges it into any tensor)");
  return adapter;
}

void run(const QuantizeOptions& o) {
  set_num_threads(o.threads);
  if (is_bnb_method(o.method)) return quantize_bnb(o.model, o.out, o.method, o.double_quant, o.adapter);
  NIBBLE_CHECK(o.method == "rtn" || o.method == "gptq" || o.method == "awq" || o.method == "awq+gptq",
               "--method must be rtn, gptq, awq, awq+gptq, nf4, fp4 or int8, got '", o.method, "'");
  const bool awq = o.method == "awq" || o.method == "awq+gptq";
  const bool gemm_fits = o.bits == 4 && !o.sym && !o.act_order && o.group_size > 0;
  const std::string format = !o.format.empty() ? o.format : o.method == "awq" && gemm_fits ? "awq" : "gptq";
  NIBBLE_CHECK(format == "gptq" || format == "awq", "--format must be gptq or awq, got '", format, "'");
  NIBBLE_CHECK(format == "gptq" || gemm_fits,
               "--format awq (AutoAWQ GEMM) stores 4-bit codes with zero points in groups: it needs "
               "--bits 4, a --group-size, no --sym and no --act-order");
  NIBBLE_CHECK(o.bits == 2 || o.bits == 3 || o.bits == 4 || o.bits == 8,
               "--bits must be 2, 3, 4 or 8, got ", o.bits);
  NIBBLE_CHECK(o.group_size == -1 || o.group_size == 32 || o.group_size == 64 ||
                   o.group_size == 128 || o.group_size == 256,
               "--group-size must be 32, 64, 128, 256 or -1 (per channel), got ", o.group_size);
  NIBBLE_CHECK(o.damp > 0 && o.damp < 1, "--damp must be in (0, 1), got ", o.damp);
  NIBBLE_CHECK(o.lm_head_bits == 0 || o.lm_head_bits == 4 || o.lm_head_bits == 8,
               "--lm-head-bits must be 4 or 8 (or 0: keep lm_head dense), got ", o.lm_head_bits);
  NIBBLE_CHECK(o.lm_head_bits == 0 || format == "gptq", "--lm-head-bits needs the GPTQ layout (--format gptq)");
  const bool clip = o.clip < 0 ? o.method != "rtn" : o.clip == 1;
  const auto start = std::chrono::steady_clock::now();
  const io::ModelSource src = io::open_model(o.model);
  NIBBLE_CHECK(src.format == "hf", o.model, ": quantize reads Hugging Face checkpoints");
  const io::ModelConfig& c = src.config;
  const std::unique_ptr<lora::PeftAdapter> adapter = o.adapter.empty() ? nullptr : open_adapter(o, src);

  // Calibration: GPTQ needs it; RTN uses it, when given, only to report output errors.
  quant::CalibrationSet calib;
  std::string calib_file = o.calib;
  if (calib_file.empty() && o.method != "rtn" && file_exists(join_path(o.model, "calibration.txt")))
    calib_file = join_path(o.model, "calibration.txt");
  if (o.method != "rtn")
    NIBBLE_CHECK(!calib_file.empty(), o.method, " needs calibration text: pass --calib FILE (plain text or "
                 "JSON lines), e.g. a few hundred KB of text like the model's training data; ",
                 o.model, " has no calibration.txt");
  if (!calib_file.empty()) {
    auto tok = tokenizer::load_tokenizer(src);
    quant::CalibrationOptions co{calib_file, o.nsamples, o.seqlen > 0 ? o.seqlen : awq ? 512 : 2048, o.seed};
    calib = quant::load_calibration(co, *tok, c.max_position_embeddings, c.vocab_size);
    std::printf("calibration: %s\n", calib.description.c_str());
  }

  formats::GptqExportConfig ec;
  ec.bits = o.bits;
  ec.group_size = o.group_size;
  ec.symmetric = o.sym;
  ec.desc_act = o.act_order;
  ec.static_groups = o.static_groups;
  ec.damp = o.damp;
  ec.method = o.method;
  ec.lm_head_bits = o.lm_head_bits;
  ec.extra = {{"method", o.method}, {"calibration", calib.description}, {"seed", o.seed},
              {"clip_search", clip}};
  quant::GptqOptions g;
  g.bits = o.bits;
  g.group_size = o.group_size;
  g.symmetric = o.sym;
  g.act_order = o.act_order;
  g.static_groups = o.static_groups;
  g.damp = o.damp;
  g.clip_search = clip;
  quant::AwqOptions ao;
  ao.bits = o.bits;
  ao.group_size = o.group_size;
  ao.symmetric = o.sym;
  ao.clip = o.method == "awq" ? clip : o.awq_clip;
  ao.search_with_gptq = o.method == "awq+gptq";
  ao.search_tokens = o.awq_search_tokens;
  ao.gptq = g;
  if (awq) ec.extra["awq_clip"] = ao.clip;
  if (awq) ec.extra["awq_search_tokens"] = ao.search_tokens;
  if (o.fp_inputs) ec.extra["fp_inputs"] = true;
  // The journal compares these on --resume: the same adapter directory with the same weights.
  if (adapter)
    ec.extra["lora_adapter"] = {{"path", std::filesystem::absolute(o.adapter).lexically_normal().string()},
                                {"digest", adapter->digest()}};
  std::unique_ptr<formats::CheckpointWriter> writer;
  if (format == "awq")
    writer = std::make_unique<formats::AwqCheckpointWriter>(src, o.out, formats::AwqExportConfig{o.group_size, ec.extra},
                                                            o.resume);
  else
    writer = std::make_unique<formats::GptqCheckpointWriter>(src, o.out, ec, o.resume);
  if (writer->layers_done() > 0)
    std::printf("resuming: layers 0-%d are done, continuing at layer %d\n", writer->layers_done() - 1,
                writer->layers_done());

  quant::LinearMethod method = [&](const std::string& name, const std::vector<float>& W,
                                   int64_t rows, int64_t cols,
                                   const quant::HessianAccumulator* h) {
    if (format == "awq")
      NIBBLE_CHECK(formats::awq_packable(cols, rows, o.group_size), name, ": ", rows, " x ", cols,
                   " cannot be packed in AWQ GEMM layout (out features must be multiples of 8, in "
                   "features of the group size)");
    else
      NIBBLE_CHECK(formats::gptq_exportable(cols, rows), name, ": ", rows, " x ", cols,
                   " cannot be packed in GPTQ layout (dimensions must be multiples of 32)");
    // AWQ's own clipping search replaces the per-group grid search.
    if (o.method == "rtn" || o.method == "awq")
      return quant::rtn_quantize(W.data(), rows, cols, {o.bits, o.group_size, o.sym, o.method == "rtn" && clip});
    return quant::gptq_quantize(W.data(), rows, cols, h->hessian(), g);
  };

  quant::PipelineOptions po;
  po.bits = o.bits;
  po.group_size = o.group_size;
  po.symmetric = o.sym;
  po.first_layer = writer->layers_done();
  if (awq) po.transform = quant::awq_layer_transform(ao);
  po.full_precision_inputs = o.fp_inputs;
  if (adapter) {
    po.adjust_weight = [&adapter](const std::string& name, float* W, int64_t rows, int64_t cols) {
      adapter->merge_into_tensor(name, W, rows, cols);
    };
    std::printf("LoRA adapter: %zu modules (r %d, scaling %.4g), merged into each layer as it is read\n",
                adapter->modules().size(), adapter->config().r, adapter->config().scaling());
  }
  double quantized_bits = 0, quantized_weights = 0;
  Progress progress("quantize", c.num_layers, "layers");
  progress.update(writer->layers_done());
  quant::run_layer_pipeline(
      src, calib.samples, po, method, [&](int l) { return writer->read_layer(l); },
      [&](quant::LayerResult&& layer) {
        writer->write_layer(layer);
        for (const auto& r : layer.reports) {
          if (calib.samples.empty())
            std::printf("  %-36s %6.2f s\n", r.name.c_str(), r.seconds);
          else
            std::printf("  %-36s output error %.5f (rtn %.5f) %6.2f s\n", r.name.c_str(),
                        r.relative_error, r.rtn_relative_error, r.seconds);
          for (const auto& w : r.warnings) std::printf("    warning: %s\n", w.c_str());
        }
        for (const auto& note : layer.notes) std::printf("  %s\n", note.c_str());
        std::fflush(stdout);
        progress.update(layer.layer + 1);
      });
  progress.finish();
  if (o.lm_head_bits != 0 && !writer->has_lm_head()) quantize_lm_head(src, o, *writer);
  // Bits per weight of the quantized linears, counted from the shapes.
  for (int l = 0; l < c.num_layers; ++l)
    for (const auto& [name, q] : writer->read_layer(l).linears) {
      quantized_bits += writer->codec().stored_bits(q.rows, q.cols, q.groups);
      quantized_weights += double(q.rows) * q.cols;
    }
  const size_t before = src.weights->total_bytes();
  const size_t after = writer->finish();
  std::printf("wrote %s\n", o.out.c_str());
  std::printf("size: %.2f MiB -> %.2f MiB (%.2fx smaller)\n", before / 1048576.0, after / 1048576.0,
              double(before) / double(after));
  std::printf("bits per weight: %.3f in the quantized linears (codes, scales, zeros%s); "
              "%.3f over all parameters\n",
              quantized_bits / quantized_weights, format == "gptq" ? ", g_idx" : "",
              8.0 * double(after) / double(c.parameter_count()));
  std::printf("wall time: %.1f s\n", seconds_since(start));
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::Option* method = nullptr;
  CLI::App* verb = app.add_subcommand("quantize", "quantize a Hugging Face checkpoint (RTN, GPTQ, AWQ, bitsandbytes, GGUF)");
  verb->add_option("-m,--model", o->model, "Hugging Face model directory")->required();
  verb->add_option("-o,--output", o->out, "output directory (--format gguf: output .gguf file)")->required();
  method = verb->add_option("--method", o->method, "rtn, gptq, awq, awq+gptq (AWQ's scales, then GPTQ), or bitsandbytes-style nf4, fp4, int8 (--format gguf: gptq, or leave out)");
  verb->add_option("--format", o->format, "checkpoint layout: gptq, awq (AutoAWQ GEMM, 4-bit; the default for --method awq --bits 4), or gguf (one llama.cpp file)");
  verb->add_option("--type", o->gguf_type, "--format gguf: F16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
                   "Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K (default Q4_K_M)");
  verb->add_option("--imatrix", o->imatrix, "--format gguf: llama.cpp importance matrix (.dat or .gguf) "
                   "weighting the K-quant and legacy quantizers' rounding error (see nibble imatrix)");
  verb->add_flag("--double-quant", o->double_quant, "nf4/fp4: quantize the absmax values too");
  verb->add_option("--adapter", o->adapter, "PEFT LoRA adapter merged into the weights before quantizing");
  verb->add_option("--bits", o->bits, "bits per weight: 2, 3, 4 or 8");
  verb->add_option("--group-size", o->group_size, "weights per scale: 32, 64, 128, 256 or -1 (per channel)");
  verb->add_flag("--sym", o->sym, "symmetric grid (zero fixed at 2^(bits-1); vLLM's Marlin fast path)");
  verb->add_flag("--act-order", o->act_order, "GPTQ: quantize columns by decreasing Hessian diagonal (desc_act)");
  verb->add_flag("--static-groups", o->static_groups, "GPTQ: fit groups before any update (act-order with no g_idx cost)");
  verb->add_option("--damp", o->damp, "GPTQ: dampening, a fraction of the mean Hessian diagonal");
  verb->add_flag_function(
      "--clip", [o](int64_t) { o->clip = 1; },
      "clip each group's range: rtn/gptq/awq+gptq minimize its weight error (default for gptq), awq "
      "runs its output-error clipping search (default)");
  verb->add_flag_function("--no-clip", [o](int64_t) { o->clip = 0; },
                          "fit each group to its full range (default for rtn)");
  verb->add_option("--lm-head-bits", o->lm_head_bits,
                   "also quantize lm_head (round-to-nearest) at 4 or 8 bits; default: keep it BF16");
  verb->add_flag("--awq-clip", o->awq_clip, "awq+gptq: also run AWQ's clipping search before GPTQ");
  verb->add_option("--awq-search-tokens", o->awq_search_tokens,
                   "awq: calibration tokens the scale search runs each attention/MLP block on (a subsample "
                   "of whole sequences; 0: all, as AutoAWQ)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  verb->add_flag("--fp-inputs", o->fp_inputs,
                 "calibrate each layer on the full-precision model's activations (AutoAWQ) rather than the "
                 "quantized layers' (GPTQ)");
  verb->add_option("--calib", o->calib, "calibration text or JSON lines (default: calibration.txt in the model directory)");
  verb->add_option("--nsamples", o->nsamples, "calibration windows")->check(CLI::Range(1, 100000));
  verb->add_option("--seqlen", o->seqlen, "tokens per window (default 512 for AWQ, else 2048; clamped to the model's context)")
      ->check(CLI::Range(2, 1 << 20));
  verb->add_option("--seed", o->seed, "seed for the calibration windows");
  verb->add_flag("--resume", o->resume, "continue an interrupted quantization in the same -o");
  verb->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  verb->callback([o, method] {
    if (o->format != "gguf") {
      NIBBLE_CHECK(o->imatrix.empty(), "--imatrix weighs llama.cpp's quantizers: use it with --format gguf");
      return run(*o);
    }
    set_num_threads(o->threads);
    quantize_to_gguf({o->model, o->out, o->gguf_type, method->count() ? o->method : "llama.cpp", o->calib,
                      o->nsamples, o->seqlen ? o->seqlen : 2048, o->seed, o->damp, o->clip != 0, o->imatrix,
                      o->adapter});
  });
}

}  // namespace nibble::cli
