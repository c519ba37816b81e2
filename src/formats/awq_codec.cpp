#include "formats/awq_codec.h"

#include "core/error.h"
#include "core/half.h"
#include "formats/tensor_checks.h"

namespace nibble::formats {

uint32_t pack_awq_word(const uint8_t* codes, int64_t stride) {
  uint32_t word = 0;
  for (int i = 0; i < 8; ++i) word |= uint32_t(codes[kAwqPackOrder[i] * stride] & 0xF) << (4 * i);
  return word;
}

void unpack_awq_word(uint32_t word, uint8_t* codes, int64_t stride) {
  for (int i = 0; i < 8; ++i) codes[kAwqPackOrder[i] * stride] = uint8_t((word >> (4 * i)) & 0xF);
}

bool awq_packable(int64_t in, int64_t out, int64_t group_size) {
  return group_size >= 1 && in % group_size == 0 && out % 8 == 0;
}

AwqTensors encode_awq_gemm(const quant::GptqOutput& q, int64_t g) {
  const int64_t K = q.cols, N = q.rows;
  NIBBLE_CHECK(awq_packable(K, N, g), "AWQ GEMM packing needs out features divisible by 8 and in "
               "features by the group size, got ", N, " x ", K, " in groups of ", g);
  NIBBLE_CHECK(q.groups == K / g, "AWQ GEMM packing: ", q.groups, " groups for ", K, " inputs in groups of ", g);
  for (int64_t k = 0; k < K; ++k)
    NIBBLE_CHECK(q.g_idx[k] == k / g, "AWQ has no g_idx: input ", k, " must be in group ", k / g);
  AwqTensors t;
  t.k = K;
  t.n = N;
  t.groups = K / g;
  const int64_t words = N / 8;
  // Codes are stored [N, K]; a GEMM word holds one input row's 8 outputs.
  t.qweight.resize(size_t(K * words));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < words; ++c) {
      for (int64_t j = 0; j < 8; ++j)
        NIBBLE_CHECK(q.codes[(8 * c + j) * K + k] <= 15, "AWQ GEMM packing holds 4-bit codes only");
      t.qweight[k * words + c] = int32_t(pack_awq_word(&q.codes[(8 * c) * K + k], K));
    }
  t.qzeros.resize(size_t(t.groups * words));
  t.scales.resize(size_t(t.groups * N));
  std::vector<uint8_t> zeros(static_cast<size_t>(N));
  for (int64_t gi = 0; gi < t.groups; ++gi) {
    for (int64_t n = 0; n < N; ++n) {
      const float z = q.zeros[n * t.groups + gi];
      NIBBLE_CHECK(z >= 0 && z <= 15 && z == float(int(z)), "AWQ GEMM packing: zero point ", z,
                   " of output ", n, ", group ", gi, " is not a 4-bit code");
      zeros[n] = uint8_t(z);
      t.scales[gi * N + n] = f32_to_f16(q.scales[n * t.groups + gi]);
    }
    for (int64_t c = 0; c < words; ++c) t.qzeros[gi * words + c] = int32_t(pack_awq_word(&zeros[8 * c], 1));
  }
  return t;
}

namespace {

int64_t group_count(const std::string& prefix, int64_t K, int64_t group_size) {
  const int64_t g = group_size == -1 ? K : group_size;
  NIBBLE_CHECK(g >= 1 && K % g == 0, prefix, ": group size ", group_size, " does not divide the ", K,
               " inputs");
  return K / g;
}

quant::GptqOutput empty_output(int64_t N, int64_t K, int64_t G) {
  quant::GptqOutput q;
  q.rows = N;
  q.cols = K;
  q.groups = int(G);
  q.codes.resize(size_t(N * K));
  q.scales.resize(size_t(N * G));
  q.zeros.resize(size_t(N * G));
  q.g_idx.resize(size_t(K));
  for (int64_t k = 0; k < K; ++k) q.g_idx[k] = int32_t(k / (K / G));
  return q;
}

}  // namespace

quant::GptqOutput decode_awq_gemm(const std::string& prefix, const TensorView& qweight,
                                  const TensorView& qzeros, const TensorView& scales, int64_t group_size) {
  NIBBLE_CHECK(qweight.shape.size() == 2, prefix, ".qweight: expected 2 dimensions, found ",
               qweight.shape_string());
  const int64_t K = qweight.dim(0), N = qweight.dim(1) * 8;
  NIBBLE_CHECK(K >= 1 && N >= 8, prefix, ".qweight: shape ", qweight.shape_string(), " is empty");
  const int64_t G = group_count(prefix, K, group_size), words = N / 8;
  expect_tensor(qweight, DType::I32, {K, words}, prefix + ".qweight");
  expect_tensor(qzeros, DType::I32, {G, words}, prefix + ".qzeros");
  expect_tensor(scales, DType::F16, {G, N}, prefix + ".scales");
  quant::GptqOutput q = empty_output(N, K, G);
  const auto* qw = static_cast<const uint32_t*>(qweight.data);
  const auto* qz = static_cast<const uint32_t*>(qzeros.data);
  const auto* sc = static_cast<const uint16_t*>(scales.data);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < words; ++c) unpack_awq_word(qw[k * words + c], &q.codes[(8 * c) * K + k], K);
  std::vector<uint8_t> zeros(static_cast<size_t>(N));
  for (int64_t gi = 0; gi < G; ++gi) {
    for (int64_t c = 0; c < words; ++c) unpack_awq_word(qz[gi * words + c], &zeros[8 * c], 1);
    for (int64_t n = 0; n < N; ++n) {
      q.zeros[n * G + gi] = float(zeros[n]);
      q.scales[n * G + gi] = f16_to_f32(sc[gi * N + n]);
    }
  }
  return q;
}

quant::GptqOutput decode_awq_gemv(const std::string& prefix, const TensorView& qweight,
                                  const TensorView& qzeros, const TensorView& scales, int64_t group_size) {
  NIBBLE_CHECK(qweight.shape.size() == 2, prefix, ".qweight: expected 2 dimensions, found ",
               qweight.shape_string());
  const int64_t N = qweight.dim(0), K = qweight.dim(1) * 8;
  NIBBLE_CHECK(N >= 1 && K >= 8, prefix, ".qweight: shape ", qweight.shape_string(), " is empty");
  const int64_t G = group_count(prefix, K, group_size), g = K / G;
  NIBBLE_CHECK(g >= 128 || g == 64 || g == 32, prefix, ": the GEMV layout has no group size ", g);
  const int64_t multiple = g >= 128 ? 1 : g == 64 ? 2 : 4;
  const int64_t width = ((G + 7) / 8 + multiple - 1) / multiple * multiple;
  expect_tensor(qweight, DType::I32, {N, K / 8}, prefix + ".qweight");
  expect_tensor(qzeros, DType::I32, {N, width}, prefix + ".qzeros");
  expect_tensor(scales, DType::F16, {N, 8 * width}, prefix + ".scales");
  quant::GptqOutput q = empty_output(N, K, G);
  const auto* qw = static_cast<const uint32_t*>(qweight.data);
  const auto* qz = static_cast<const uint32_t*>(qzeros.data);
  const auto* sc = static_cast<const uint16_t*>(scales.data);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) q.codes[n * K + k] = uint8_t((qw[n * (K / 8) + k / 8] >> (4 * (k % 8))) & 0xF);
    for (int64_t gi = 0; gi < G; ++gi) {
      q.zeros[n * G + gi] = float((qz[n * width + gi / 8] >> (4 * (gi % 8))) & 0xF);
      q.scales[n * G + gi] = f16_to_f32(sc[n * 8 * width + gi]);
    }
  }
  return q;
}

}  // namespace nibble::formats
