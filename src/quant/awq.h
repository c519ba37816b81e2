// AWQ, activation-aware weight quantization (specs/awq.md §1–§6), as a
// transform of one decoder layer before its linears are quantized:
//
//  1. The layer runs in full precision over the calibration inputs; per input
//     channel the mean |x| of each linear's input is recorded (and the
//     inputs' Hessians, see below).
//  2. For each scaling group — input_layernorm → q, k, v; v → o when v's
//     outputs are o's inputs (not under GQA); post_attention_layernorm →
//     gate, up; up → down — a grid of 20 α (0, 0.05, …, 0.95) tries
//     s = mean|x|^α / w_mean^(1−α) (AutoAWQ's duo scaling; w_mean is the
//     per-column mean of the group's weights normalized by each group's
//     max), centred so that max(s)·min(s) = 1, and keeps the α whose
//     fake-quantized Q(W·s)/s gives the smallest squared error of the
//     block's output: the whole attention (after o) for q, k, v, the whole
//     MLP for gate, up, and the linear's own output for o and down. Every
//     group is searched against the untouched layer.
//  3. The scales are folded: the norm weight (or the previous linear's
//     rows) is divided by s, the group's columns multiplied by it, so the
//     layer computes the same function.
//  4. The clipping search (§6): for v, o, gate, up and down (not q, k), per
//     (row, group) the range max|w| shrunk by 0, 5%, …, 45% whose quantized
//     group gives the smallest output error; the pipeline clamps the
//     weights to it before quantizing.
//
// Deliberate differences from AutoAWQ, for speed and memory on a CPU:
//  * The attention and MLP blocks of the grid search run on a subsample of
//    the calibration sequences (AwqOptions::search_tokens), which bounds
//    the ~40 block passes per layer; AutoAWQ runs all (~64 K tokens).
//  * Output errors of a single linear (o, down, the clipping search) are
//    computed from the Hessian of its inputs (tr(ΔW H ΔWᵀ) = Σ ‖ΔW x‖²)
//    instead of running the inputs; for the clipping search this means all
//    calibration tokens count, not a subsample of 512.
//  * No scaling (s = 1) is a candidate beside the 20 α, so a group's block
//    error is never worse than round-to-nearest's (with duo scaling even
//    α = 0 scales).
//  * The grid is quant/group_params.h's (fp16 scale, zero point, range
//    extended to contain 0). AutoAWQ's range is the raw [min, max]; the two
//    agree whenever a group holds weights of both signs, and where they do
//    not, AutoAWQ's zero point saturates (spec §7) and ours does not.
//  * In the layer pipeline the calibration inputs of layer l come from the
//    already quantized layers before it (as in GPTQ), not from the
//    full-precision model.
#pragma once

#include <vector>

#include "quant/calibration_layer.h"
#include "quant/layer_pipeline.h"

namespace nibble::quant {

struct AwqOptions {
  int bits = 4;
  int group_size = 128;  // <= 0: per-channel
  bool symmetric = false;
  int grid = 20;             // α = i / grid for i < grid
  bool duo_scaling = true;   // divide by w_mean^(1−α), AutoAWQ's default
  // Tokens the grid runs the attention and MLP blocks on: every k-th
  // calibration sequence, k = total / search_tokens (0: all). The
  // statistics and the Hessian-based errors always use every token. 4096
  // keeps the 21 trial passes per block below the cost of the layer's own
  // calibration pass at AutoAWQ's 128 x 512 tokens.
  int64_t search_tokens = 4096;
  // The quantizer whose error the scale search measures: round-to-nearest
  // (AWQ), or GPTQ with these options on the scaled inputs' Hessian
  // (awq+gptq: scales chosen for the quantizer that will be used).
  bool search_with_gptq = false;
  GptqOptions gptq;
  bool clip = true;          // run the clipping search
  int clip_grid = 20;        // shrink steps of 1 / clip_grid ...
  double clip_max_shrink = 0.5;  // ... up to this fraction (exclusive)
};

// Searches and folds the scales of one layer on its calibration inputs
// (`hidden`: one tokens x hidden block per sequence) and, with
// options.clip, searches the clipping maxima. The layer's weights and
// norms are changed in place; the result says how (see TransformedLayer).
// Threads split the sequences, so BLAS should run single-threaded
// (core/blas_threads.h), as the layer pipeline holds it.
TransformedLayer awq_transform(CalibrationLayer& layer, const std::vector<std::vector<float>>& hidden,
                               int64_t tokens, const AwqOptions& options);

// awq_transform for PipelineOptions::transform.
LayerTransform awq_layer_transform(const AwqOptions& options);

}  // namespace nibble::quant
