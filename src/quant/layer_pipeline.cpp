#include "quant/layer_pipeline.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "core/blas_threads.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "quant/calibration_layer.h"
#include "quant/rtn.h"

namespace nibble::quant {

namespace {

const std::vector<std::vector<std::string>> kTrueSequentialGroups = {
    {"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"},
    {"self_attn.o_proj"},
    {"mlp.up_proj", "mlp.gate_proj"},
    {"mlp.down_proj"}};

std::vector<float> rtn_dequantized(const std::vector<float>& W, int64_t rows, int64_t cols,
                                   const PipelineOptions& o) {
  return dequantize(rtn_quantize(W.data(), rows, cols, {o.bits, o.group_size, o.symmetric}));
}

// W with each (row, group) clamped to [−m, m] for its m in clip (rows x groups).
std::vector<float> clamped(const std::vector<float>& W, int64_t rows, int64_t cols, int64_t g,
                           const std::vector<float>& clip) {
  const int64_t groups = (cols + g - 1) / g;
  NIBBLE_CHECK(clip.size() == size_t(rows * groups), "clipping maxima: ", clip.size(), " for ", rows,
               " x ", groups, " groups");
  std::vector<float> out(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float m = clip[r * groups + c / g];
      out[r * cols + c] = std::clamp(W[r * cols + c], -m, m);
    }
  return out;
}

// diag(row) · A · diag(1 / col): a transformed linear back in the original basis.
std::vector<float> unscaled(std::vector<float> A, int64_t rows, int64_t cols,
                            const std::vector<float>* row, const std::vector<float>* col) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float& a = A[r * cols + c];
      if (row) a *= (*row)[r];
      if (col) a /= (*col)[c];
    }
  return A;
}

template <class Map>
const typename Map::mapped_type* find_or_null(const Map& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<double> relative_output_errors(const std::vector<float>& W,
                                           const std::vector<std::vector<float>>& approximations,
                                           int64_t rows, int64_t cols, const std::vector<float>& H) {
  const double base = weighted_square_norm(W, rows, cols, H);
  std::vector<double> errors;
  std::vector<float> D(W.size());
  for (const std::vector<float>& What : approximations) {
    for (size_t i = 0; i < W.size(); ++i) D[i] = W[i] - What[i];
    errors.push_back(base > 0 ? weighted_square_norm(D, rows, cols, H) / base : 0);
  }
  return errors;
}

void run_layer_pipeline(const io::ModelSource& source,
                        const std::vector<std::vector<int>>& calibration,
                        const PipelineOptions& o, const LinearMethod& method,
                        const std::function<LayerResult(int)>& replay,
                        const std::function<void(LayerResult&&)>& on_layer) {
  const io::ModelConfig& c = source.config;
  const int64_t h = c.hidden_size, qd = c.q_dim(), f = c.intermediate_size;
  const size_t n = calibration.size();
  const int64_t T = n ? int64_t(calibration[0].size()) : 0;

  // Hidden states of every calibration sequence, starting from the embeddings.
  std::vector<std::vector<float>> x(n, std::vector<float>(size_t(T * h)));
  if (n) {
    const TensorView& emb = source.weights->get("model.embed_tokens.weight");
    const size_t row_bytes = size_t(h) * dtype_size(emb.dtype);
    for (size_t s = 0; s < n; ++s)
      for (int64_t t = 0; t < T; ++t) {
        const int id = calibration[s][t];
        NIBBLE_CHECK(id >= 0 && id < c.vocab_size, "calibration token ", id, " is outside the vocabulary");
        convert_to_f32(emb.dtype, static_cast<const uint8_t*>(emb.data) + id * row_bytes,
                       &x[s][t * h], size_t(h));
      }
    source.weights->release("model.embed_tokens.weight");
  }
  std::vector<std::vector<float>> att(n);
  // down_proj's inputs from stage 3, kept in bf16 for the layer's output pass
  // (as f32 they would be the largest allocation: 2.75x the hidden states
  // for Llama shapes), so gate and up do not run twice.
  std::vector<std::vector<uint16_t>> mlp_hidden(n);
  // Parallelism comes from splitting the sequences over threads; BLAS runs
  // single-threaded inside each (its own threads would fight OpenMP's).
  const SingleThreadedBlas blas_per_thread;

  for (int l = 0; l < c.num_layers; ++l) {
    CalibrationLayer layer(c, *source.weights, l, o.adjust_weight);
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    LayerResult result;
    result.layer = l;
    const bool replaying = l < o.first_layer;
    if (replaying) {
      result = replay(l);
      for (const char* name : kLayerLinears)
        layer.weight(name) = dequantize(result.linears.at(prefix + name));
      for (const auto& [name, values] : result.parameters) {
        std::vector<float>& p = layer.parameter(name.substr(prefix.size()));
        NIBBLE_CHECK(p.size() == values.size(), name, ": ", values.size(), " values, expected ", p.size());
        p = values;
      }
    }
    // AutoAWQ's convention: the next layer sees the full-precision outputs
    // (the same with or without a transform's folded scales).
    std::vector<std::vector<float>> next;
    if (o.full_precision_inputs) {
      const CalibrationLayer original(c, *source.weights, l, o.adjust_weight);
      next = x;
      parallel_for(int64_t(n), [&](int64_t s0, int64_t s1) {
        std::vector<float> xn(size_t(T * h)), a(size_t(T * std::max(qd, f)));
        for (int64_t s = s0; s < s1; ++s) {
          original.attn_input(next[s].data(), T, xn.data());
          original.attention(xn.data(), T, a.data());
          original.add_attn_output(a.data(), T, next[s].data());
          original.mlp_input(next[s].data(), T, xn.data());
          original.mlp_hidden(xn.data(), T, a.data());
          original.add_mlp_output(a.data(), T, next[s].data());
        }
      });
    }
    TransformedLayer transformed;
    if (!replaying && o.transform) {
      transformed = o.transform(layer, x, T);
      for (const std::string& name : transformed.changed_parameters)
        result.parameters[prefix + name] = layer.parameter(name);
      result.notes = transformed.notes;
    }

    for (size_t stage = 0; stage < kTrueSequentialGroups.size(); ++stage) {
      const std::vector<std::string>& group = kTrueSequentialGroups[stage];
      std::unique_ptr<HessianAccumulator> hessian;
      if (n && !replaying) hessian = std::make_unique<HessianAccumulator>(layer.in_features(group[0]));
      // Each thread runs its share of the sequences up to this group's input
      // (single-threaded BLAS inside) and keeps its own Hessian; they are
      // merged after, in sequence order, so the result does not depend on
      // thread timing (a resumed run must reproduce the same codes).
      std::mutex merge_mutex;
      std::map<int64_t, std::unique_ptr<HessianAccumulator>> partial_sums;
      parallel_for(int64_t(n), [&](int64_t s0, int64_t s1) {
        std::vector<float> xn(size_t(T * h)), act;
        std::unique_ptr<HessianAccumulator> local;
        if (hessian) local = std::make_unique<HessianAccumulator>(hessian->cols());
        for (int64_t s = s0; s < s1; ++s) {
          const float* input = nullptr;
          switch (stage) {
            case 0:
              layer.attn_input(x[s].data(), T, xn.data());
              input = xn.data();
              break;
            case 1:
              layer.attn_input(x[s].data(), T, xn.data());
              att[s].resize(size_t(T * qd));
              layer.attention(xn.data(), T, att[s].data());
              input = att[s].data();
              break;
            case 2:
              layer.add_attn_output(att[s].data(), T, x[s].data());
              std::vector<float>().swap(att[s]);
              layer.mlp_input(x[s].data(), T, xn.data());
              input = xn.data();
              break;
            case 3:
              act.resize(size_t(T * f));
              layer.mlp_input(x[s].data(), T, xn.data());
              layer.mlp_hidden(xn.data(), T, act.data());
              mlp_hidden[s].resize(act.size());
              for (size_t i = 0; i < act.size(); ++i) mlp_hidden[s][i] = f32_to_bf16(act[i]);
              input = act.data();
              break;
          }
          if (local) local->add(input, T, 1);
        }
        if (local) {
          std::lock_guard<std::mutex> lock(merge_mutex);
          partial_sums[s0] = std::move(local);
        }
      });
      for (const auto& [first, sum] : partial_sums) hessian->merge(*sum);
      if (replaying) continue;
      const std::vector<float> H = hessian ? hessian->hessian() : std::vector<float>();
      for (const std::string& name : group) {
        const auto start = std::chrono::steady_clock::now();
        std::vector<float>& W = layer.weight(name);
        const int64_t rows = layer.out_features(name), cols = layer.in_features(name);
        const std::vector<float>* clip = find_or_null(transformed.clip, name);
        GptqOutput q = method(prefix + name,
                              clip ? clamped(W, rows, cols, o.group_size <= 0 ? cols : o.group_size, *clip) : W,
                              rows, cols, hessian.get());
        if (q.codes.empty()) continue;  // a method that only observes (nibble imatrix): W stays float
        std::vector<float> What = dequantize(q);
        LinearReport report;
        report.name = prefix + name;
        report.warnings = q.warnings;
        if (hessian) {
          // In the original basis (before a transform's scaling), so that the
          // comparison is with round-to-nearest of the original weights.
          const std::vector<float>* row = find_or_null(transformed.row_scales, name);
          const std::vector<float>* col = find_or_null(transformed.col_scales, name);
          std::vector<float> scaled_H;
          if (col) {
            scaled_H = H;
            for (int64_t i = 0; i < cols; ++i)
              for (int64_t j = 0; j < cols; ++j) scaled_H[i * cols + j] *= (*col)[i] * (*col)[j];
          }
          const std::vector<float>& H0 = col ? scaled_H : H;
          const std::vector<float> W0 = unscaled(W, rows, cols, row, col);
          const std::vector<double> errors = relative_output_errors(
              W0, {unscaled(What, rows, cols, row, col), rtn_dequantized(W0, rows, cols, o)}, rows, cols, H0);
          report.relative_error = errors[0];
          report.rtn_relative_error = errors[1];
        }
        W = std::move(What);  // later stages see the quantized linear
        report.seconds = seconds_since(start);
        result.reports.push_back(report);
        result.linears[prefix + name] = std::move(q);
      }
    }
    if (o.full_precision_inputs) {
      x = std::move(next);
      for (auto& cached : mlp_hidden) std::vector<uint16_t>().swap(cached);
      if (!replaying) on_layer(std::move(result));
      continue;
    }
    // The quantized layer's outputs are the next layer's inputs (the last
    // layer's are not needed).
    if (l + 1 == c.num_layers) {
      if (!replaying) on_layer(std::move(result));
      break;
    }
    parallel_for(int64_t(n), [&](int64_t s0, int64_t s1) {
      std::vector<float> act(size_t(T * f));
      for (int64_t s = s0; s < s1; ++s) {
        for (size_t i = 0; i < act.size(); ++i) act[i] = bf16_to_f32(mlp_hidden[s][i]);
        std::vector<uint16_t>().swap(mlp_hidden[s]);
        layer.add_mlp_output(act.data(), T, x[s].data());
      }
    });
    if (!replaying) on_layer(std::move(result));
  }
}

}  // namespace nibble::quant
