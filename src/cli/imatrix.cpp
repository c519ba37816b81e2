// nibble imatrix: llama.cpp's importance matrix (per-column mean x² of every
// linear's input over calibration text) for `nibble quantize --imatrix` and
// llama-quantize --imatrix.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/parallel.h"
#include "io/model_source.h"
#include "quant/calibration.h"
#include "quant/imatrix.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::cli {

namespace {

struct ImatrixOptions {
  std::string model, out, calib;
  int nsamples = 128, seqlen = 512, threads = 0;
  uint64_t seed = 0;
};

void run(const ImatrixOptions& o) {
  set_num_threads(o.threads);
  const auto start = std::chrono::steady_clock::now();
  const io::ModelSource src = io::open_model(o.model);
  NIBBLE_CHECK(src.format == "hf", o.model, ": imatrix reads Hugging Face checkpoints");
  std::string calib_file = o.calib;
  if (calib_file.empty() && file_exists(join_path(src.directory, "calibration.txt")))
    calib_file = join_path(src.directory, "calibration.txt");
  NIBBLE_CHECK(!calib_file.empty(), "imatrix needs calibration text: pass --calib FILE (plain text or JSON lines); ",
               o.model, " has no calibration.txt");
  const auto tok = tokenizer::load_tokenizer(src);
  const quant::CalibrationOptions co{calib_file, o.nsamples, o.seqlen, o.seed};
  const quant::CalibrationSet calib =
      quant::load_calibration(co, *tok, src.config.max_position_embeddings, src.config.vocab_size);
  std::printf("calibration: %s\n", calib.description.c_str());

  quant::Imatrix m = quant::compute_imatrix(src, calib.samples);
  m.dataset = calib_file;
  quant::write_imatrix(o.out, m);
  float lo = 0, hi = 0;
  bool first = true;
  for (const auto& [name, mean] : m.mean_squares)
    for (float v : mean) {
      lo = first ? v : std::min(lo, v);
      hi = first ? v : std::max(hi, v);
      first = false;
    }
  std::printf("wrote %s: %zu tensors, %lld tokens in %d-token chunks, mean x^2 from %.3g to %.3g\n", o.out.c_str(),
              m.mean_squares.size(), static_cast<long long>(m.tokens), m.chunk_size, lo, hi);
  std::printf("wall time: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

void add_imatrix(CLI::App& app) {
  auto o = std::make_shared<ImatrixOptions>();
  CLI::App* verb = app.add_subcommand("imatrix", "compute llama.cpp's importance matrix from calibration text");
  verb->add_option("-m,--model", o->model, "Hugging Face model directory")->required();
  verb->add_option("-o,--output", o->out, "imatrix file: legacy .dat, or GGUF when the name ends in .gguf")
      ->required();
  verb->add_option("--calib", o->calib, "calibration text or JSON lines (default: calibration.txt in the model directory)");
  verb->add_option("--nsamples", o->nsamples, "calibration windows")->check(CLI::Range(1, 100000));
  verb->add_option("--seqlen", o->seqlen, "tokens per window (clamped to the model's context)")
      ->check(CLI::Range(2, 1 << 20));
  verb->add_option("--seed", o->seed, "seed for the calibration windows");
  verb->add_option("-t,--threads", o->threads, "threads (default: all cores)");
  verb->callback([o] { run(*o); });
}

}  // namespace nibble::cli
