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
#include "quant/calibration_layer.h"
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
  // 1-D tensors a transform changed, by full name ("model.layers.3.input_layernorm.weight"):
  // AWQ's folded norms. A checkpoint stores them in place of the source's.
  std::map<std::string, std::vector<float>> parameters;
  std::vector<LinearReport> reports;
  std::vector<std::string> notes;  // the transform's account of itself, one line each
};

// What a layer transform (AWQ, quant/awq.h) did to a layer before its
// linears are quantized. A transform keeps the layer's function: a linear
// becomes W' = diag(1 / row_scale) · W · diag(col_scale), and the inverse
// scales are folded into the operator before it (a norm or another linear).
struct TransformedLayer {
  // By linear ("mlp.down_proj"); a linear not listed is unscaled.
  std::map<std::string, std::vector<float>> col_scales, row_scales;
  // By linear: the largest |w| allowed per (row, group), rows x groups;
  // weights are clamped to it before quantizing (AWQ's clipping search).
  std::map<std::string, std::vector<float>> clip;
  std::vector<std::string> changed_parameters;  // "input_layernorm.weight", ...
  std::vector<std::string> notes;
};

// Called once per newly quantized layer, before its linears are quantized,
// with the layer's calibration inputs (one T x hidden block per sequence).
using LayerTransform = std::function<TransformedLayer(
    CalibrationLayer& layer, const std::vector<std::vector<float>>& hidden, int64_t tokens)>;

struct PipelineOptions {
  int bits = 4;
  int group_size = 128;
  bool symmetric = false;
  int first_layer = 0;  // resume: layers before it are replayed from `replay`, not quantized
  LayerTransform transform;  // optional (AWQ)
  // Feed each layer the full-precision outputs of the layers before it
  // (AutoAWQ) instead of the quantized ones (GPTQ).
  bool full_precision_inputs = false;
  // Optional: applied to each linear's weights as its layer is read (both
  // the layer being quantized and, with full_precision_inputs, its
  // full-precision copy).
  WeightAdjuster adjust_weight;
  // Compute each linear's LinearReport errors (off for a method that only
  // observes the inputs, nibble imatrix).
  bool report_errors = true;
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

}  // namespace nibble::quant
