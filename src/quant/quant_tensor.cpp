#include "quant/quant_tensor.h"

#include <cmath>

#include "core/error.h"
#include "core/half.h"
#include "kernels/qmatmul.h"

namespace nibble::quant {

float QuantTensor::scale(int64_t r, int64_t g) const {
  return f16_to_f32(scales[size_t(r * groups() + g)]);
}

float QuantTensor::zero(int64_t r, int64_t g) const {
  return f16_to_f32(zeros[size_t(r * groups() + g)]);
}

void QuantTensor::validate(const std::string& name) const {
  NIBBLE_CHECK(bits == 2 || bits == 3 || bits == 4 || bits == 8, name, ": bits must be 2, 3, 4 or 8, got ",
               bits);
  NIBBLE_CHECK(rows >= 1 && cols >= 1, name, ": shape ", rows, " x ", cols, " is empty");
  NIBBLE_CHECK(group_size >= 1 && group_size <= cols, name, ": group size ", group_size,
               " is outside [1, ", cols, "] (use ", cols, " for per-channel)");
  const int64_t G = groups();
  NIBBLE_CHECK(codes.size() == size_t(rows * cols), name, ": ", codes.size(), " codes for ", rows,
               " x ", cols, " weights");
  NIBBLE_CHECK(scales.size() == size_t(rows * G) && zeros.size() == size_t(rows * G), name, ": ",
               scales.size(), " scales and ", zeros.size(), " zeros, expected ", rows, " x ", G,
               " groups = ", rows * G);
  NIBBLE_CHECK(g_idx.empty() || g_idx.size() == size_t(cols), name, ": g_idx has ", g_idx.size(),
               " entries, expected ", cols, " (one per input column)");
  const int64_t bad = kernels::first_code_above(codes.data(), int64_t(codes.size()), (1 << bits) - 1);
  NIBBLE_CHECK(bad < 0, name, ": code ", int(codes[size_t(bad)]), " at row ", bad / cols,
               ", column ", bad % cols, " does not fit in ", bits, " bits");
  for (size_t c = 0; c < g_idx.size(); ++c)
    NIBBLE_CHECK(g_idx[c] >= 0 && g_idx[c] < G, name, ": g_idx[", c, "] = ", g_idx[c],
                 " is outside [0, ", G, ")");
  const float sym_zero = float(1 << (bits - 1));
  for (size_t i = 0; i < scales.size(); ++i) {
    const float s = f16_to_f32(scales[i]), z = f16_to_f32(zeros[i]);
    NIBBLE_CHECK(std::isfinite(s) && std::isfinite(z), name, ": row ", i / size_t(G), ", group ",
                 i % size_t(G), " has scale ", s, " and zero ", z, " (must be finite)");
    NIBBLE_CHECK(!symmetric || z == sym_zero, name, ": symmetric, but row ", i / size_t(G),
                 ", group ", i % size_t(G), " has zero ", z, " instead of ", sym_zero);
  }
}

std::vector<float> QuantTensor::dequantize() const {
  std::vector<float> w(size_t(rows * cols));
  const int64_t G = groups();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t g = group_of(c);
      const float s = f16_to_f32(scales[size_t(r * G + g)]);
      const float z = f16_to_f32(zeros[size_t(r * G + g)]);
      w[size_t(r * cols + c)] = (float(codes[size_t(r * cols + c)]) - z) * s;
    }
  return w;
}

double QuantTensor::bits_per_weight() const {
  if (rows * cols == 0) return 0;
  const double per_group = 16.0 + (symmetric ? 0.0 : 16.0);
  const double total = double(rows) * double(cols) * bits + double(rows * groups()) * per_group +
                       double(g_idx.size()) * 32.0;
  return total / (double(rows) * double(cols));
}

std::string QuantTensor::format() const {
  std::string f = cat("w", bits);
  if (!per_channel()) f += cat("g", group_size);
  if (symmetric) f += "-sym";
  if (per_channel()) f += " per-channel";
  if (act_order()) f += " act-order";
  return f;
}

QuantTensor to_quant_tensor(const GptqOutput& q, int bits, int64_t group_size, bool symmetric) {
  QuantTensor t;
  t.rows = q.rows;
  t.cols = q.cols;
  t.bits = bits;
  t.group_size = (group_size <= 0 || group_size >= q.cols) ? q.cols : group_size;
  t.symmetric = symmetric;
  const int64_t G = t.groups();
  NIBBLE_CHECK(q.groups == G && q.codes.size() == size_t(q.rows * q.cols) &&
                   q.scales.size() == size_t(q.rows * G) && q.zeros.size() == size_t(q.rows * G),
               "quantizer output: ", q.groups, " groups and ", q.scales.size(), " scales for ",
               q.rows, " x ", q.cols, " weights in groups of ", t.group_size);
  t.codes = q.codes;
  t.scales.resize(q.scales.size());
  t.zeros.resize(q.zeros.size());
  for (size_t i = 0; i < q.scales.size(); ++i) {
    t.scales[i] = f32_to_f16(q.scales[i]);
    t.zeros[i] = f32_to_f16(q.zeros[i]);
  }
  bool trivial = true;
  for (size_t c = 0; c < q.g_idx.size() && trivial; ++c)
    trivial = q.g_idx[c] == int32_t(int64_t(c) / t.group_size);
  if (!trivial) {
    NIBBLE_CHECK(q.g_idx.size() == size_t(q.cols), "quantizer output: g_idx has ", q.g_idx.size(),
                 " entries for ", q.cols, " columns");
    t.g_idx = q.g_idx;
  }
  return t;
}

}  // namespace nibble::quant
