#include "formats/gptq_codec.h"

#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "formats/bit_packing.h"
#include "formats/tensor_checks.h"

namespace nibble::formats {

bool gptq_packable(int64_t in, int64_t out) { return in % 32 == 0 && out % 32 == 0; }

GptqTensors encode_gptq(const quant::GptqOutput& q, int bits, ZeroFormat zeros) {
  NIBBLE_CHECK(gptq_packable(q.cols, q.rows), "GPTQ packing needs in and out features divisible by 32, got ",
               q.cols, " x ", q.rows);
  GptqTensors t;
  t.k = q.cols;
  t.n = q.rows;
  t.groups = q.groups;
  t.bits = bits;
  const int64_t K = t.k, N = t.n, G = t.groups;
  // qweight: for each output n, the codes of inputs 32r..32r+31 become words b·r..b·r+b−1.
  t.qweight.assign(size_t(K / 32 * bits * N), 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t r = 0; r < K / 32; ++r)
      pack32(&q.codes[n * K + r * 32], 1, bits,
             reinterpret_cast<uint32_t*>(&t.qweight[(r * bits) * N + n]), N);
  // scales [G, N] and zero fields packed along N.
  t.scales.resize(size_t(G * N));
  t.qzeros.assign(size_t(G * (N / 32) * bits), 0);
  const int mask = (1 << bits) - 1;
  std::vector<uint8_t> fields(static_cast<size_t>(N));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t n = 0; n < N; ++n) {
      t.scales[g * N + n] = f32_to_f16(q.scales[n * G + g]);
      const int z = int(q.zeros[n * G + g]);
      fields[n] = uint8_t(zeros == ZeroFormat::v1 ? (z - 1) & mask : z);
    }
    for (int64_t c = 0; c < N / 32; ++c)
      pack32(&fields[c * 32], 1, bits,
             reinterpret_cast<uint32_t*>(&t.qzeros[g * (N / 32) * bits + c * bits]), 1);
  }
  t.g_idx = q.g_idx;
  return t;
}


quant::GptqOutput decode_gptq(const std::string& prefix, const TensorView& qweight,
                              const TensorView& qzeros, const TensorView& scales,
                              const TensorView* g_idx, int bits, ZeroFormat zeros, bool masked_v1) {
  NIBBLE_CHECK(bits == 2 || bits == 3 || bits == 4 || bits == 8, prefix, ": unsupported bits ", bits);
  NIBBLE_CHECK(scales.shape.size() == 2, prefix, ".scales: expected 2 dimensions");
  const int64_t G = scales.dim(0), N = scales.dim(1);
  NIBBLE_CHECK(qweight.shape.size() == 2 && qweight.dim(0) % bits == 0, prefix,
               ".qweight: shape ", qweight.shape_string(), " does not fit ", bits, "-bit packing");
  const int64_t K = qweight.dim(0) / bits * 32;
  NIBBLE_CHECK(N % 32 == 0 && G >= 1 && G <= K, prefix, ": ", N, " outputs and ", G,
               " groups do not fit GPTQ packing");
  expect_tensor(qweight, DType::I32, {K / 32 * bits, N}, prefix + ".qweight");
  expect_tensor(qzeros, DType::I32, {G, N / 32 * bits}, prefix + ".qzeros");
  expect_tensor(scales, DType::F16, {G, N}, prefix + ".scales");
  if (g_idx) expect_tensor(*g_idx, DType::I32, {K}, prefix + ".g_idx");

  quant::GptqOutput q;
  q.rows = N;
  q.cols = K;
  q.groups = int(G);
  q.codes.resize(size_t(N * K));
  q.scales.resize(size_t(N * G));
  q.zeros.resize(size_t(N * G));
  q.g_idx.resize(size_t(K));
  const auto* qw = static_cast<const uint32_t*>(qweight.data);
  parallel_for(N, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t r = 0; r < K / 32; ++r) unpack32(&qw[(r * bits) * N + n], N, bits, &q.codes[n * K + r * 32], 1);
  });
  const auto* qz = static_cast<const uint32_t*>(qzeros.data);
  const auto* sc = static_cast<const uint16_t*>(scales.data);
  std::vector<uint8_t> fields(static_cast<size_t>(N));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t c = 0; c < N / 32; ++c) unpack32(&qz[g * (N / 32) * bits + c * bits], 1, bits, &fields[c * 32], 1);
    for (int64_t n = 0; n < N; ++n) {
      int z = fields[n];
      if (zeros == ZeroFormat::v1) {
        z += 1;
        if (z == (1 << bits)) {
          NIBBLE_CHECK(masked_v1, prefix, ".qzeros: a v1 zero point of 2^", bits,
                       " (AutoGPTQ's corrupted asymmetric zero); re-export as gptq_v2");
          z = 0;
        }
      }
      q.zeros[n * G + g] = float(z);
      q.scales[n * G + g] = f16_to_f32(sc[g * N + n]);
    }
  }
  const auto* gi = g_idx ? static_cast<const int32_t*>(g_idx->data) : nullptr;
  const int64_t group_size = (K + G - 1) / G;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t t = gi ? gi[k] : int32_t(k / group_size);
    NIBBLE_CHECK(t >= 0 && t < G, prefix, ".g_idx[", k, "] = ", t, " is not a group (", G, ")");
    q.g_idx[k] = t;
  }
  return q;
}

}  // namespace nibble::formats
