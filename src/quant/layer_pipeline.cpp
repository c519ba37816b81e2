#include "quant/layer_pipeline.h"

#include <algorithm>
#include <chrono>
#include <future>
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

// ‖(W − Ŵ)X‖², from the Hessian of X (proportional to XᵀX).
double output_error(const std::vector<float>& W, const std::vector<float>& What, int64_t rows, int64_t cols,
                    const std::vector<float>& H) {
  std::vector<float> D(W.size());
  for (size_t i = 0; i < W.size(); ++i) D[i] = W[i] - What[i];
  return weighted_square_norm(D, rows, cols, H);
}

// ‖WX‖² and round-to-nearest's ‖(W − Ŵ_rtn)X‖²: the parts of a linear's
// report that do not depend on the method's result.
struct ReferenceErrors {
  double output = 0, rtn = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

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
  // The stages take the sequences kBlock at a time, so each linear
  // multiplies kBlock·T tokens at once: BLAS repacks the weights once per
  // call, which at T = 512 costs several percent of a product.
  constexpr int64_t kBlock = 4;
  const int64_t blocks = (int64_t(n) + kBlock - 1) / kBlock;
  auto block_sequences = [&](int64_t b) { return std::min<int64_t>(kBlock, int64_t(n) - b * kBlock); };
  // A block's hidden states as one matrix, and back.
  auto gather = [&](int64_t b, std::vector<float>& block) {
    block.resize(size_t(block_sequences(b) * T * h));
    for (int64_t i = 0; i < block_sequences(b); ++i)
      std::copy(x[b * kBlock + i].begin(), x[b * kBlock + i].end(), &block[size_t(i * T * h)]);
  };
  auto scatter = [&](int64_t b, const std::vector<float>& block) {
    for (int64_t i = 0; i < block_sequences(b); ++i)
      std::copy_n(&block[size_t(i * T * h)], T * h, x[b * kBlock + i].begin());
  };
  std::vector<std::vector<float>> att(static_cast<size_t>(blocks));
  // down_proj's inputs from stage 3, kept in bf16 for the layer's output pass
  // (as f32 they would be the largest allocation: 2.75x the hidden states
  // for Llama shapes), so gate and up do not run twice.
  std::vector<std::vector<uint16_t>> mlp_hidden(static_cast<size_t>(blocks));
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
      // Each thread runs its share of the blocks up to this group's input
      // (single-threaded BLAS inside) and keeps its own Hessian; they are
      // merged after, in sequence order, so the result does not depend on
      // thread timing (a resumed run must reproduce the same codes).
      std::mutex merge_mutex;
      std::map<int64_t, std::unique_ptr<HessianAccumulator>> partial_sums;
      parallel_for(blocks, [&](int64_t b0, int64_t b1) {
        std::vector<float> xn, act, hidden;
        std::unique_ptr<HessianAccumulator> local;
        if (hessian) local = std::make_unique<HessianAccumulator>(hessian->cols());
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t count = block_sequences(b), tokens = count * T;
          xn.resize(size_t(tokens * h));
          const float* input = nullptr;
          switch (stage) {
            case 0:
            case 1:
              for (int64_t i = 0; i < count; ++i)
                layer.attn_input(x[b * kBlock + i].data(), T, &xn[size_t(i * T * h)]);
              input = xn.data();
              if (stage == 0) break;
              att[b].resize(size_t(tokens * qd));
              layer.attention(xn.data(), tokens, att[b].data(), count);
              input = att[b].data();
              break;
            case 2:
              gather(b, hidden);
              layer.add_attn_output(att[b].data(), tokens, hidden.data());
              std::vector<float>().swap(att[b]);
              scatter(b, hidden);
              layer.mlp_input(hidden.data(), tokens, xn.data());
              input = xn.data();
              break;
            case 3:
              act.resize(size_t(tokens * f));
              for (int64_t i = 0; i < count; ++i)
                layer.mlp_input(x[b * kBlock + i].data(), T, &xn[size_t(i * T * h)]);
              layer.mlp_hidden(xn.data(), tokens, act.data());
              mlp_hidden[b].resize(act.size());
              for (size_t i = 0; i < act.size(); ++i) mlp_hidden[b][i] = f32_to_bf16(act[i]);
              input = act.data();
              break;
          }
          if (local) local->add(input, tokens, count);
        }
        if (local) {
          std::lock_guard<std::mutex> lock(merge_mutex);
          partial_sums[b0] = std::move(local);
        }
      });
      for (const auto& [first, sum] : partial_sums) hessian->merge(*sum);
      partial_sums.clear();  // one Hessian per thread: 127 MB each for a 1B model's down_proj
      if (replaying) continue;
      const std::vector<float> H = hessian ? hessian->hessian() : std::vector<float>();
      for (const std::string& name : group) {
        const auto start = std::chrono::steady_clock::now();
        std::vector<float>& W = layer.weight(name);
        const int64_t rows = layer.out_features(name), cols = layer.in_features(name);
        const std::vector<float>* clip = find_or_null(transformed.clip, name);
        // The report compares in the original basis (before a transform's
        // scaling), so that the comparison is with round-to-nearest of the
        // original weights.
        const std::vector<float>* row = find_or_null(transformed.row_scales, name);
        const std::vector<float>* col = find_or_null(transformed.col_scales, name);
        const bool compare = hessian && o.report_errors;
        std::vector<float> scaled_H, W0;
        if (compare) {
          if (col) {
            scaled_H = H;
            for (int64_t i = 0; i < cols; ++i)
              for (int64_t j = 0; j < cols; ++j) scaled_H[i * cols + j] *= (*col)[i] * (*col)[j];
          }
          W0 = unscaled(W, rows, cols, row, col);
        }
        const std::vector<float>& H0 = col ? scaled_H : H;
        // On one thread beside the method: GPTQ factors the Hessian
        // single-threaded, which would leave the other cores waiting.
        std::future<ReferenceErrors> reference;
        if (compare)
          reference = std::async(std::launch::async, [&] {
            const SerialRegion one_thread;
            return ReferenceErrors{weighted_square_norm(W0, rows, cols, H0),
                                   output_error(W0, rtn_dequantized(W0, rows, cols, o), rows, cols, H0)};
          });
        GptqOutput q = method(prefix + name,
                              clip ? clamped(W, rows, cols, o.group_size <= 0 ? cols : o.group_size, *clip) : W,
                              rows, cols, hessian.get());
        if (q.codes.empty()) continue;  // a method that only observes (nibble imatrix): W stays float
        std::vector<float> What = dequantize(q);
        LinearReport report;
        report.name = prefix + name;
        report.warnings = q.warnings;
        if (compare) {
          const ReferenceErrors r = reference.get();
          if (r.output > 0) {
            report.relative_error = output_error(W0, unscaled(What, rows, cols, row, col), rows, cols, H0) / r.output;
            report.rtn_relative_error = r.rtn / r.output;
          }
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
    parallel_for(blocks, [&](int64_t b0, int64_t b1) {
      std::vector<float> act, hidden;
      for (int64_t b = b0; b < b1; ++b) {
        act.resize(mlp_hidden[b].size());
        for (size_t i = 0; i < act.size(); ++i) act[i] = bf16_to_f32(mlp_hidden[b][i]);
        std::vector<uint16_t>().swap(mlp_hidden[b]);
        gather(b, hidden);
        layer.add_mlp_output(act.data(), block_sequences(b) * T, hidden.data());
        scatter(b, hidden);
      }
    });
    if (!replaying) on_layer(std::move(result));
  }
}

}  // namespace nibble::quant
