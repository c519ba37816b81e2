// Importance matrices in llama.cpp's format: for each linear weight, the mean
// of x² over the calibration tokens for each input column x of that linear
// (what llama-imatrix collects and llama-quantize --imatrix weighs the
// rounding error of K-quants with). Tensors are named by their GGUF names
// ("blk.0.attn_q.weight", ...).
//
// Files, as llama.cpp reads and writes them:
// * legacy binary (.dat), little-endian: int32 entry count; per entry
//   (sorted by name) int32 name length, the name, int32 ncall, int32 nval,
//   nval float32 = mean(x²) · ncall; then int32 chunk count and the dataset
//   name (int32 length, bytes). ncall is the number of chunks the mean
//   covers, so a reader divides by it.
// * GGUF (a name ending in .gguf): general.type "imatrix", imatrix.datasets,
//   imatrix.chunk_count, imatrix.chunk_size; per entry F32 tensors
//   "<name>.in_sum2" (Σ x², ne [nval, nmat]) and "<name>.counts" (tokens,
//   ne [1, nmat]); the mean is in_sum2 / counts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/model_source.h"

namespace nibble::quant {

struct Imatrix {
  std::map<std::string, std::vector<float>> mean_squares;  // GGUF tensor name -> mean x² per input column
  int64_t tokens = 0;      // calibration tokens each mean is over
  int chunk_size = 0;      // tokens per calibration window
  std::string dataset;     // the calibration file
};

// Per-column mean of x² by GGUF tensor name, from a legacy .dat or a GGUF
// imatrix. Throws Error naming the file for anything malformed.
std::map<std::string, std::vector<float>> read_imatrix(const std::string& path);

// Writes `m` atomically: GGUF when `path` ends in ".gguf", else legacy .dat.
void write_imatrix(const std::string& path, const Imatrix& m);

// Runs the calibration windows (all of one length) through the model's float
// weights, layer by layer, and collects the mean x² of every linear's input.
Imatrix compute_imatrix(const io::ModelSource& source, const std::vector<std::vector<int>>& calibration);

// "model.layers.3.self_attn.q_proj" -> "blk.3.attn_q.weight" (the seven
// linears of a Llama layer); throws Error for any other name.
std::string gguf_linear_name(const std::string& hf_name);

}  // namespace nibble::quant
