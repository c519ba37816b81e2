#include "quant/layer_pipeline.h"

#include <cblas.h>

#include <chrono>
#include <mutex>

#include "core/error.h"
#include "core/parallel.h"
#include "quant/calibration_layer.h"
#include "quant/group_params.h"

namespace nibble::quant {

namespace {

const std::vector<std::vector<std::string>> kTrueSequentialGroups = {
    {"self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"},
    {"self_attn.o_proj"},
    {"mlp.up_proj", "mlp.gate_proj"},
    {"mlp.down_proj"}};

std::vector<float> rtn_dequantized(const std::vector<float>& W, int64_t rows, int64_t cols,
                                   const PipelineOptions& o) {
  const int64_t g = o.group_size <= 0 ? cols : o.group_size;
  const int maxq = (1 << o.bits) - 1;
  std::vector<float> out(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < cols; c0 += g) {
      const int64_t n = std::min(g, cols - c0);
      const GroupParams p = fit_group(&W[r * cols + c0], n, o.bits, o.symmetric);
      for (int64_t c = c0; c < c0 + n; ++c)
        out[r * cols + c] = p.scale * (float(quantize_value(W[r * cols + c], p, maxq)) - p.zero);
    }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

std::vector<float> dequantize(const GptqOutput& q) {
  std::vector<float> out(size_t(q.rows * q.cols));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t c = 0; c < q.cols; ++c) {
      const int64_t t = r * q.groups + q.g_idx[c];
      out[r * q.cols + c] = q.scales[t] * (float(q.codes[r * q.cols + c]) - q.zeros[t]);
    }
  return out;
}

double relative_output_error(const std::vector<float>& W, const std::vector<float>& What,
                             int64_t rows, int64_t cols, const std::vector<float>& H) {
  // tr(A H Aᵀ) = Σ (A H) ∘ A, for A = W − Ŵ and A = W.
  auto quadratic = [&](const std::vector<float>& A) {
    std::vector<float> AH(A.size());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(cols), int(cols), 1.0f,
                A.data(), int(cols), H.data(), int(cols), 0.0f, AH.data(), int(cols));
    double s = 0;
    for (size_t i = 0; i < A.size(); ++i) s += double(AH[i]) * A[i];
    return s;
  };
  std::vector<float> D(W.size());
  for (size_t i = 0; i < W.size(); ++i) D[i] = W[i] - What[i];
  const double base = quadratic(W);
  return base > 0 ? quadratic(D) / base : 0;
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
  // Parallelism comes from splitting the sequences over threads; BLAS runs
  // single-threaded inside each (its own threads would fight OpenMP's).
  openblas_set_num_threads(1);

  for (int l = 0; l < c.num_layers; ++l) {
    CalibrationLayer layer(c, *source.weights, l);
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    LayerResult result;
    result.layer = l;
    const bool replaying = l < o.first_layer;
    if (replaying) {
      result = replay(l);
      for (const char* name : kLayerLinears)
        layer.weight(name) = dequantize(result.linears.at(prefix + name));
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
        GptqOutput q = method(prefix + name, W, rows, cols, hessian.get());
        if (q.codes.empty()) continue;  // a method that only observes (nibble imatrix): W stays float
        std::vector<float> What = dequantize(q);
        LinearReport report;
        report.name = prefix + name;
        report.warnings = q.warnings;
        if (hessian) {
          report.relative_error = relative_output_error(W, What, rows, cols, H);
          report.rtn_relative_error =
              relative_output_error(W, rtn_dequantized(W, rows, cols, o), rows, cols, H);
        }
        W = std::move(What);  // later stages see the quantized linear
        report.seconds = seconds_since(start);
        result.reports.push_back(report);
        result.linears[prefix + name] = std::move(q);
      }
    }
    // The quantized layer's outputs are the next layer's inputs.
    parallel_for(int64_t(n), [&](int64_t s0, int64_t s1) {
      std::vector<float> xn(size_t(T * h)), act(size_t(T * f));
      for (int64_t s = s0; s < s1; ++s) {
        layer.mlp_input(x[s].data(), T, xn.data());
        layer.mlp_hidden(xn.data(), T, act.data());
        layer.add_mlp_output(act.data(), T, x[s].data());
      }
    });
    if (!replaying) on_layer(std::move(result));
  }
}

}  // namespace nibble::quant
