#include "quant/awq.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "core/parallel.h"
#include "quant/group_params.h"
#include "quant/hessian.h"
#include "quant/rtn.h"

namespace nibble::quant {

namespace {

// The four inputs the linears of a layer see.
enum Input { kAttnIn, kAttnOut, kMlpIn, kMlpHidden, kInputs };

// How a scaling group's output error is measured.
enum class Block { attention, mlp, linear };

struct ScalingGroup {
  std::string prev;  // absorbs 1/s: a norm ("input_layernorm.weight") or a linear (its rows)
  std::vector<std::string> linears;
  Input input;
  Block block;
};

bool is_linear(const std::string& name) {
  for (const char* l : kLayerLinears)
    if (name == l) return true;
  return false;
}

// The layer in full precision over the calibration set: what the search
// needs of each input, and the block outputs it compares against.
struct Statistics {
  std::vector<double> abs_sum[kInputs];  // Σ |x| per input channel
  std::vector<float> hessian[kInputs];   // HessianAccumulator::hessian() of each input
  // The sequences the scale search runs (every stride-th), and their
  // attention and MLP outputs, tokens x hidden each.
  int64_t stride = 1;
  std::vector<int64_t> searched;
  std::vector<std::vector<float>> attn_out, mlp_out;
  int64_t tokens = 0;

  std::vector<float> mean_abs(Input i) const {
    std::vector<float> m(abs_sum[i].size());
    for (size_t j = 0; j < m.size(); ++j) m[j] = float(abs_sum[i][j] / double(tokens));
    return m;
  }
};

int64_t input_width(const CalibrationLayer& layer, Input i) {
  switch (i) {
    case kAttnIn: return layer.in_features("self_attn.q_proj");
    case kAttnOut: return layer.in_features("self_attn.o_proj");
    case kMlpIn: return layer.in_features("mlp.gate_proj");
    default: return layer.in_features("mlp.down_proj");
  }
}

void add_abs(const float* x, int64_t tokens, int64_t width, std::vector<double>& sum) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < width; ++j) sum[j] += std::abs(x[t * width + j]);
}

Statistics run_full_precision(const CalibrationLayer& layer,
                              const std::vector<std::vector<float>>& hidden, int64_t T,
                              const AwqOptions& o) {
  const size_t n = hidden.size();
  Statistics st;
  st.tokens = int64_t(n) * T;
  if (o.search_tokens > 0) st.stride = std::max<int64_t>(1, st.tokens / o.search_tokens);
  for (int64_t s = 0; s < int64_t(n); s += st.stride) st.searched.push_back(s);
  st.attn_out.resize(st.searched.size());
  st.mlp_out.resize(st.searched.size());
  int64_t width[kInputs];
  for (int i = 0; i < kInputs; ++i) {
    width[i] = input_width(layer, Input(i));
    st.abs_sum[i].assign(size_t(width[i]), 0.0);
  }
  const int64_t h = width[kAttnIn];
  // Per-thread partial sums, merged in sequence order so that the result
  // does not depend on thread timing (a resumed run must match).
  struct Partial {
    std::vector<double> abs_sum[kInputs];
    std::unique_ptr<HessianAccumulator> hessian[kInputs];
  };
  std::mutex merge_mutex;
  std::map<int64_t, Partial> partials;
  parallel_for(int64_t(n), [&](int64_t s0, int64_t s1) {
    Partial p;
    for (int i = 0; i < kInputs; ++i) {
      p.abs_sum[i].assign(size_t(width[i]), 0.0);
      p.hessian[i] = std::make_unique<HessianAccumulator>(width[i]);
    }
    std::vector<float> xn(size_t(T * h)), att(size_t(T * width[kAttnOut])), xm(size_t(T * h)),
        act(size_t(T * width[kMlpHidden]));
    for (int64_t s = s0; s < s1; ++s) {
      const float* inputs[kInputs] = {xn.data(), att.data(), xn.data(), act.data()};
      layer.attn_input(hidden[s].data(), T, xn.data());
      layer.attention(xn.data(), T, att.data());
      for (Input i : {kAttnIn, kAttnOut}) {
        add_abs(inputs[i], T, width[i], p.abs_sum[i]);
        p.hessian[i]->add(inputs[i], T, 1);
      }
      std::fill(xm.begin(), xm.end(), 0.0f);
      layer.add_attn_output(att.data(), T, xm.data());
      const bool searched = s % st.stride == 0;
      if (searched) st.attn_out[s / st.stride] = xm;
      for (size_t j = 0; j < xm.size(); ++j) xm[j] += hidden[s][j];
      layer.mlp_input(xm.data(), T, xn.data());
      layer.mlp_hidden(xn.data(), T, act.data());
      for (Input i : {kMlpIn, kMlpHidden}) {
        add_abs(inputs[i], T, width[i], p.abs_sum[i]);
        p.hessian[i]->add(inputs[i], T, 1);
      }
      if (searched) {
        st.mlp_out[s / st.stride].assign(size_t(T * h), 0.0f);
        layer.add_mlp_output(act.data(), T, st.mlp_out[s / st.stride].data());
      }
    }
    std::lock_guard<std::mutex> lock(merge_mutex);
    partials[s0] = std::move(p);
  });
  for (int i = 0; i < kInputs; ++i) {
    HessianAccumulator sum(width[i]);
    for (auto& [first, p] : partials) {
      for (size_t j = 0; j < p.abs_sum[i].size(); ++j) st.abs_sum[i][j] += p.abs_sum[i][j];
      sum.merge(*p.hessian[i]);
      p.hessian[i].reset();
    }
    st.hessian[i] = sum.hessian();
  }
  return st;
}

// Per input column, the mean over all rows of the group's linears of
// |w| / max|w of its quantization group| (AutoAWQ's w_mean).
std::vector<float> weight_mean(CalibrationLayer& layer, const std::vector<std::string>& linears,
                               int64_t group_size) {
  const int64_t cols = layer.in_features(linears[0]);
  const int64_t g = group_size <= 0 ? cols : std::min(group_size, cols);
  std::vector<double> sum(static_cast<size_t>(cols), 0.0);
  int64_t rows_total = 0;
  for (const std::string& name : linears) {
    const std::vector<float>& W = layer.weight(name);
    const int64_t rows = layer.out_features(name);
    rows_total += rows;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += g) {
        const int64_t c1 = std::min(cols, c0 + g);
        float amax = 0;
        for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::abs(W[r * cols + c]));
        for (int64_t c = c0; c < c1; ++c) sum[c] += std::abs(W[r * cols + c]) / (amax + 1e-6f);
      }
  }
  std::vector<float> mean(sum.size());
  for (size_t c = 0; c < sum.size(); ++c) mean[c] = float(sum[c] / double(rows_total));
  return mean;
}

// The scales tried for one α (spec §4).
std::vector<float> candidate_scales(const std::vector<float>& x_mean, const std::vector<float>& w_mean,
                                    double alpha, bool duo) {
  std::vector<float> s(x_mean.size());
  for (size_t j = 0; j < s.size(); ++j) {
    double v = std::pow(double(x_mean[j]), alpha);
    if (duo) v /= std::pow(double(w_mean[j]), 1 - alpha) + 1e-4;
    s[j] = float(std::max(v, 1e-4));
  }
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  const float centre = std::sqrt(*lo * *hi);
  for (float& v : s) {
    v /= centre;
    if (!std::isfinite(v)) v = 1;
  }
  return s;
}

// Q(W · diag(s)) · diag(s)⁻¹: what the model computes with once s is
// folded. H is the Hessian of the unscaled inputs, for GPTQ.
std::vector<float> fake_quantized(const std::vector<float>& W, int64_t rows, int64_t cols,
                                  const std::vector<float>& s, const std::vector<float>& H,
                                  const AwqOptions& o) {
  std::vector<float> Ws(W.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) Ws[r * cols + c] = W[r * cols + c] * s[c];
  GptqOutput quantized;
  if (o.search_with_gptq) {
    std::vector<float> Hs(H.size());  // of the scaled inputs x / s
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) Hs[i * cols + j] = H[i * cols + j] / (s[i] * s[j]);
    quantized = gptq_quantize(Ws.data(), rows, cols, std::move(Hs), o.gptq);
  } else {
    quantized = rtn_quantize(Ws.data(), rows, cols, {o.bits, o.group_size, o.symmetric});
  }
  std::vector<float> q = dequantize(quantized);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) q[r * cols + c] /= s[c];
  return q;
}

double sum_of_squares(const std::vector<std::vector<float>>& blocks) {
  double s = 0;
  for (const auto& b : blocks)
    for (float v : b) s += double(v) * v;
  return s;
}

// Squared error of the group's block output with the layer's current
// (trial) weights against the full-precision reference.
double block_error(const ScalingGroup& group, CalibrationLayer& layer, const Statistics& st,
                   const std::map<std::string, std::vector<float>>& original,
                   const std::vector<std::vector<float>>& hidden, int64_t T) {
  if (group.block == Block::linear) {
    const std::string& name = group.linears[0];
    const int64_t rows = layer.out_features(name), cols = layer.in_features(name);
    std::vector<float> D = layer.weight(name);
    for (size_t i = 0; i < D.size(); ++i) D[i] -= original.at(name)[i];
    // H = (2 / sequences) Σ x xᵀ, so tr(D H Dᵀ) · sequences / 2 = Σ ‖D x‖².
    return weighted_square_norm(D, rows, cols, st.hessian[group.input]) * double(hidden.size()) / 2;
  }
  const int64_t h = layer.in_features("self_attn.q_proj");
  std::vector<double> per_sequence(st.searched.size());
  parallel_for(int64_t(st.searched.size()), [&](int64_t j0, int64_t j1) {
    std::vector<float> xn(size_t(T * h)), y(size_t(T * h)), inner;
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t s = st.searched[j];
      std::fill(y.begin(), y.end(), 0.0f);
      const std::vector<float>* reference;
      if (group.block == Block::attention) {
        inner.resize(size_t(T * layer.in_features("self_attn.o_proj")));
        layer.attn_input(hidden[s].data(), T, xn.data());
        layer.attention(xn.data(), T, inner.data());
        layer.add_attn_output(inner.data(), T, y.data());
        reference = &st.attn_out[j];
      } else {
        inner.resize(size_t(T * layer.in_features("mlp.down_proj")));
        std::vector<float> xm(size_t(T * h));
        for (size_t i = 0; i < xm.size(); ++i) xm[i] = hidden[s][i] + st.attn_out[j][i];
        layer.mlp_input(xm.data(), T, xn.data());
        layer.mlp_hidden(xn.data(), T, inner.data());
        layer.add_mlp_output(inner.data(), T, y.data());
        reference = &st.mlp_out[j];
      }
      double e = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        const double d = double(y[i]) - (*reference)[i];
        e += d * d;
      }
      per_sequence[j] = e;
    }
  });
  double total = 0;
  for (double e : per_sequence) total += e;
  return total;
}

// The squared size of the block's reference output, to report relative errors.
double block_size(const ScalingGroup& group, CalibrationLayer& layer, const Statistics& st,
                  size_t sequences) {
  if (group.block == Block::attention) return sum_of_squares(st.attn_out);
  if (group.block == Block::mlp) return sum_of_squares(st.mlp_out);
  const std::string& name = group.linears[0];
  return weighted_square_norm(layer.weight(name), layer.out_features(name), layer.in_features(name),
                              st.hessian[group.input]) *
         double(sequences) / 2;
}

struct SearchResult {
  std::vector<float> scales;
  double alpha = 0;  // -1: no scaling
  double error = 0, unscaled_error = 0;
};

SearchResult search_scales(const ScalingGroup& group, CalibrationLayer& layer, const Statistics& st,
                           const std::vector<std::vector<float>>& hidden, int64_t T,
                           const AwqOptions& o) {
  std::map<std::string, std::vector<float>> original;
  for (const std::string& name : group.linears) original[name] = layer.weight(name);
  const std::vector<float> x_mean = st.mean_abs(group.input);
  const std::vector<float> w_mean = weight_mean(layer, group.linears, o.group_size);
  auto error_with = [&](const std::vector<float>& s) {
    for (const std::string& name : group.linears)
      layer.weight(name) = fake_quantized(original[name], layer.out_features(name),
                                          layer.in_features(name), s, st.hessian[group.input], o);
    return block_error(group, layer, st, original, hidden, T);
  };
  // No scaling (s = 1, plain round-to-nearest) is a candidate too, so a
  // group is never left worse off than without AWQ; AutoAWQ's grid lacks it.
  SearchResult best;
  best.scales.assign(x_mean.size(), 1.0f);
  best.alpha = -1;
  best.error = best.unscaled_error = error_with(best.scales);
  for (int i = 0; i < o.grid; ++i) {
    const double alpha = double(i) / o.grid;
    std::vector<float> s = candidate_scales(x_mean, w_mean, alpha, o.duo_scaling);
    const double e = error_with(s);
    if (std::isfinite(e) && !(e >= best.error)) best = {std::move(s), alpha, e, best.unscaled_error};
  }
  for (const std::string& name : group.linears) layer.weight(name) = std::move(original[name]);
  NIBBLE_CHECK(std::isfinite(best.error), "AWQ: the output error of ", group.linears[0],
               " is not finite for any scale (non-finite weights or activations?)");
  return best;
}

void scale_columns(std::vector<float>& W, int64_t rows, int64_t cols, const std::vector<float>& s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) W[r * cols + c] *= s[c];
}

// W' = W · diag(s) for the group's linears, and 1/s into `prev`.
void fold(const ScalingGroup& group, const std::vector<float>& s, CalibrationLayer& layer,
          TransformedLayer& t) {
  if (is_linear(group.prev)) {
    std::vector<float>& W = layer.weight(group.prev);
    const int64_t cols = layer.in_features(group.prev);
    for (size_t r = 0; r < s.size(); ++r)
      for (int64_t c = 0; c < cols; ++c) W[r * cols + c] /= s[r];
    const std::string bias = group.prev + ".bias";
    if (layer.has_parameter(bias)) {
      std::vector<float>& b = layer.parameter(bias);
      for (size_t r = 0; r < s.size(); ++r) b[r] /= s[r];
      t.changed_parameters.push_back(bias);
    }
    t.row_scales[group.prev] = s;
  } else {
    std::vector<float>& gamma = layer.parameter(group.prev);
    for (size_t j = 0; j < s.size(); ++j) gamma[j] /= s[j];
    t.changed_parameters.push_back(group.prev);
  }
  for (const std::string& name : group.linears) {
    scale_columns(layer.weight(name), layer.out_features(name), layer.in_features(name), s);
    t.col_scales[name] = s;
  }
}

struct ClipResult {
  std::vector<float> maxima;  // rows x groups
  int64_t shrunk = 0;         // groups whose range was shrunk
};

// AutoAWQ's clipping search (spec §6) on the scaled weights, with each
// (row, group)'s output error dᵀ H_gg d from the diagonal block of the
// scaled inputs' Hessian.
ClipResult search_clip(const std::vector<float>& W, int64_t rows, int64_t cols,
                               const std::vector<float>& H, const AwqOptions& o) {
  const int64_t g = o.group_size <= 0 ? cols : std::min<int64_t>(o.group_size, cols);
  const int64_t groups = (cols + g - 1) / g;
  const int maxq = (1 << o.bits) - 1;
  const int steps = std::max(1, int(o.clip_max_shrink * o.clip_grid));
  std::vector<float> best_max(size_t(rows * groups));
  std::vector<uint8_t> shrunk(best_max.size());
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    // Per group: the weight errors of every (row, shrink) of this thread's
    // rows as the rows of D, then D · H_gg by BLAS, err = Σ (D H_gg) ∘ D.
    const int64_t batch = (r1 - r0) * steps;
    std::vector<float> wc(static_cast<size_t>(g)), D(size_t(batch * g)), DH(size_t(batch * g)),
        amax(static_cast<size_t>(r1 - r0));
    for (int64_t t = 0; t < groups; ++t) {
      const int64_t c0 = t * g, n = std::min(g, cols - c0);
      for (int64_t r = r0; r < r1; ++r) {
        const float* w = &W[r * cols + c0];
        float& a = amax[r - r0];
        a = 0;
        for (int64_t j = 0; j < n; ++j) a = std::max(a, std::abs(w[j]));
        for (int i = 0; i < steps; ++i) {
          const float m = a * (1.0f - float(i) / float(o.clip_grid));
          for (int64_t j = 0; j < n; ++j) wc[j] = std::clamp(w[j], -m, m);
          const GroupParams p = fit_group(wc.data(), n, o.bits, o.symmetric);
          float* d = &D[((r - r0) * steps + i) * n];
          for (int64_t j = 0; j < n; ++j) d[j] = p.scale * (float(quantize_value(wc[j], p, maxq)) - p.zero) - w[j];
        }
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(batch), int(n), int(n), 1.0f, D.data(),
                  int(n), &H[c0 * cols + c0], int(cols), 0.0f, DH.data(), int(n));
      for (int64_t r = r0; r < r1; ++r) {
        const float a = amax[r - r0];
        double best_err = std::numeric_limits<double>::infinity();
        float best = a;
        for (int i = 0; i < steps; ++i) {
          const size_t at = size_t(((r - r0) * steps + i) * n);
          double err = 0;
          for (int64_t j = 0; j < n; ++j) err += double(DH[at + j]) * D[at + j];
          if (err < best_err) best_err = err, best = a * (1.0f - float(i) / float(o.clip_grid));
        }
        best_max[r * groups + t] = best;
        shrunk[r * groups + t] = best < a;
      }
    }
  });
  ClipResult result{std::move(best_max), 0};
  for (uint8_t b : shrunk) result.shrunk += b;
  return result;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) {
    if (!s.empty()) s += ",";
    s += n.substr(n.find('.') + 1);
  }
  return s;
}

}  // namespace

TransformedLayer awq_transform(CalibrationLayer& layer, const std::vector<std::vector<float>>& hidden,
                               int64_t T, const AwqOptions& o) {
  NIBBLE_CHECK(!hidden.empty() && T > 0, "AWQ needs calibration data");
  NIBBLE_CHECK(o.grid >= 1 && o.clip_grid >= 1 && o.clip_max_shrink >= 0 && o.clip_max_shrink < 1,
               "AWQ: grid ", o.grid, ", clip grid ", o.clip_grid, ", max shrink ", o.clip_max_shrink);
  std::vector<ScalingGroup> groups = {
      {"input_layernorm.weight", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
       kAttnIn, Block::attention}};
  // v's outputs are o's inputs only without grouped KV heads (spec §3).
  if (layer.out_features("self_attn.v_proj") == layer.in_features("self_attn.o_proj"))
    groups.push_back({"self_attn.v_proj", {"self_attn.o_proj"}, kAttnOut, Block::linear});
  groups.push_back({"post_attention_layernorm.weight", {"mlp.gate_proj", "mlp.up_proj"}, kMlpIn, Block::mlp});
  groups.push_back({"mlp.up_proj", {"mlp.down_proj"}, kMlpHidden, Block::linear});

  const Statistics st = run_full_precision(layer, hidden, T, o);
  TransformedLayer t;
  std::vector<SearchResult> found;
  for (const ScalingGroup& group : groups) {
    found.push_back(search_scales(group, layer, st, hidden, T, o));
    const double size = block_size(group, layer, st, hidden.size());
    const SearchResult& f = found.back();
    char line[256];
    std::snprintf(line, sizeof line, "awq %-40s alpha %-4s output error %.5f (unscaled %.5f)",
                  (group.prev.substr(0, group.prev.find(".weight")) + " -> " + join(group.linears)).c_str(),
                  f.alpha < 0 ? "none" : cat(f.alpha).c_str(), size > 0 ? f.error / size : 0.0,
                  size > 0 ? f.unscaled_error / size : 0.0);
    t.notes.push_back(line);
  }
  for (size_t i = 0; i < groups.size(); ++i) fold(groups[i], found[i].scales, layer, t);

  if (o.clip) {
    const std::pair<const char*, Input> clipped[] = {{"self_attn.v_proj", kAttnIn},
                                                     {"self_attn.o_proj", kAttnOut},
                                                     {"mlp.gate_proj", kMlpIn},
                                                     {"mlp.up_proj", kMlpIn},
                                                     {"mlp.down_proj", kMlpHidden}};
    int64_t shrunk = 0, total = 0;
    for (const auto& [name, input] : clipped) {
      const int64_t rows = layer.out_features(name), cols = layer.in_features(name);
      // The Hessian of the scaled inputs x / s.
      std::vector<float> H = st.hessian[input];
      auto s = t.col_scales.find(name);
      if (s != t.col_scales.end())
        for (int64_t i = 0; i < cols; ++i)
          for (int64_t j = 0; j < cols; ++j) H[i * cols + j] /= s->second[i] * s->second[j];
      ClipResult c = search_clip(layer.weight(name), rows, cols, H, o);
      shrunk += c.shrunk;
      total += int64_t(c.maxima.size());
      t.clip[name] = std::move(c.maxima);
    }
    t.notes.push_back(cat("awq clipping: ", total ? 100 * shrunk / total : 0,
                          "% of the groups of v, o, gate, up, down shrunk"));
  }
  return t;
}

LayerTransform awq_layer_transform(const AwqOptions& options) {
  return [options](CalibrationLayer& layer, const std::vector<std::vector<float>>& hidden, int64_t T) {
    return awq_transform(layer, hidden, T, options);
  };
}

}  // namespace nibble::quant
