// The layer-streaming quantizer (design.md, specs/gptq.md §1): calibration
// activations go through the decoder one layer at a time; inside a layer the
// linears are quantized in true-sequential groups — [k, v, q], [o],
// [up, gate], [down] — each seeing inputs produced by the already-quantized
// linears before it. Only the current layer's weights (f32) and the
// calibration hidden states are in memory.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "quant/gptq.h"
#include "quant/hessian.h"

namespace nibble::quant {

// Quantizes one linear: W (f32 [out, in]) and the Hessian of its inputs
// (null for methods without calibration). Returns the codes and grid; the
// pipeline writes the dequantized weights back for the later stages. A method
// that returns no codes only observes: the linear keeps its float weights.
using LinearMethod = std::function<GptqOutput(const std::string& name, const std::vector<float>& W,
                                              int64_t rows, int64_t cols,
                                              const HessianAccumulator* hessian)>;

struct LinearReport {
  std::string name;         // "model.layers.3.mlp.down_proj"
  double relative_error = 0;      // ‖(W − Ŵ)X‖² / ‖WX‖² on the calibration inputs
  double rtn_relative_error = 0;  // the same for plain round-to-nearest with the same grid
  double seconds = 0;
  std::vector<std::string> warnings;
};

struct LayerResult {
  int layer = 0;
  std::map<std::string, GptqOutput> linears;  // by full prefix
  std::vector<LinearReport> reports;
};

struct PipelineOptions {
  int bits = 4;
  int group_size = 128;
  bool symmetric = false;
  int first_layer = 0;  // resume: layers before it are replayed from `replay`, not quantized
};

// Runs every layer from 0. For layers < first_layer, `replay(layer)` must
// return that layer's quantized linears (from an earlier run); they are only
// run forward to rebuild the hidden states. `on_layer` receives each newly
// quantized layer. `calibration` may be empty (no Hessians; RTN).
void run_layer_pipeline(const io::ModelSource& source,
                        const std::vector<std::vector<int>>& calibration,
                        const PipelineOptions& options, const LinearMethod& method,
                        const std::function<LayerResult(int)>& replay,
                        const std::function<void(LayerResult&&)>& on_layer);

// Dequantized weights of a quantized linear, row-major [rows, cols].
std::vector<float> dequantize(const GptqOutput& q);

// ‖(W − Ŵ)X‖² / ‖WX‖² from the Hessian of X (which is proportional to XᵀX).
double relative_output_error(const std::vector<float>& W, const std::vector<float>& What,
                             int64_t rows, int64_t cols, const std::vector<float>& H);

}  // namespace nibble::quant
