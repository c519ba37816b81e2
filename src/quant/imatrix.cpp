#include "quant/imatrix.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "quant/calibration_layer.h"
#include "quant/layer_pipeline.h"

namespace nibble::quant {

namespace {

constexpr const char* kInSum2 = ".in_sum2";
constexpr const char* kCounts = ".counts";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Bounds-checked little-endian reads from a legacy imatrix file.
class Cursor {
 public:
  Cursor(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  int32_t int32(const char* what) {
    int32_t v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  const char* take(size_t n, const char* what) {
    NIBBLE_CHECK(n <= bytes_.size() - pos_, path_, ": truncated at byte ", pos_, " (reading ", what, ")");
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  const std::string& bytes_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::map<std::string, std::vector<float>> read_legacy(const std::string& path, const std::string& bytes) {
  Cursor in(bytes, path);
  const int32_t n_entries = in.int32("the entry count");
  // Each entry takes at least 12 bytes, which bounds what a corrupt count can allocate.
  NIBBLE_CHECK(n_entries > 0 && static_cast<size_t>(n_entries) <= in.remaining() / 12, path, ": entry count ",
               n_entries, " does not fit a ", bytes.size(), "-byte imatrix file");
  std::map<std::string, std::vector<float>> out;
  for (int32_t e = 0; e < n_entries; ++e) {
    const int32_t len = in.int32("a name length");
    NIBBLE_CHECK(len > 0 && len <= 1024, path, ": entry ", e, " has a name length of ", len);
    std::string name(in.take(static_cast<size_t>(len), "a name"), static_cast<size_t>(len));
    const int32_t ncall = in.int32("ncall");
    const int32_t nval = in.int32("nval");
    NIBBLE_CHECK(ncall >= 0, path, ": entry ", name, " has ncall ", ncall, " (expected >= 0)");
    NIBBLE_CHECK(nval > 0 && static_cast<size_t>(nval) <= in.remaining() / sizeof(float), path, ": entry ", name,
                 " claims ", nval, " values, more than the file holds");
    std::vector<float> values(static_cast<size_t>(nval));
    std::memcpy(values.data(), in.take(values.size() * sizeof(float), "values"), values.size() * sizeof(float));
    if (ncall > 0)  // as llama.cpp reads it: ncall 0 means the values are means already
      for (float& v : values) v /= static_cast<float>(ncall);
    NIBBLE_CHECK(out.emplace(std::move(name), std::move(values)).second, path, ": entry ", e, " repeats a name");
  }
  // The chunk count and dataset name that follow are informational.
  return out;
}

std::map<std::string, std::vector<float>> read_gguf(const std::string& path) {
  io::GgufFile file(path);
  std::map<std::string, std::vector<float>> out;
  for (const io::GgufTensorInfo& sums : file.tensors()) {
    if (!ends_with(sums.name, kInSum2)) continue;
    const std::string name = sums.name.substr(0, sums.name.size() - std::strlen(kInSum2));
    const io::GgufTensorInfo* counts = file.find_tensor(name + kCounts);
    NIBBLE_CHECK(counts, path, ": ", sums.name, " has no ", name, kCounts, " tensor");
    NIBBLE_CHECK(sums.type == io::GgmlType::F32 && counts->type == io::GgmlType::F32, path, ": ", name,
                 " imatrix tensors must be F32");
    const int64_t nmat = counts->numel();
    NIBBLE_CHECK(counts->row_length() == 1 && sums.n_rows() == nmat, path, ": ", sums.name, " has ", sums.n_rows(),
                 " rows but ", name, kCounts, " has ", nmat, " counts");
    std::vector<float> sum(static_cast<size_t>(sums.numel())), count(static_cast<size_t>(nmat));
    std::memcpy(sum.data(), sums.data, sum.size() * sizeof(float));
    std::memcpy(count.data(), counts->data, count.size() * sizeof(float));
    const int64_t per_mat = sums.row_length();
    for (size_t i = 0; i < sum.size(); ++i) {
      const float c = count[i / static_cast<size_t>(per_mat)];
      sum[i] = c > 0 ? sum[i] / c : 1.0f;  // a matrix that saw no tokens (an unused expert) weighs all columns alike
    }
    out.emplace(name, std::move(sum));
  }
  NIBBLE_CHECK(!out.empty(), path, ": a GGUF file without imatrix tensors (*.in_sum2)");
  return out;
}

void write_legacy(const std::string& path, const Imatrix& m) {
  const int32_t chunks = m.chunk_size > 0 ? static_cast<int32_t>((m.tokens + m.chunk_size - 1) / m.chunk_size) : 1;
  write_file_atomically(path, [&](std::FILE* f) {
    const auto put_int = [&](int32_t v) { write_bytes(f, &v, sizeof v, path); };
    const auto put_string = [&](const std::string& s) {
      put_int(static_cast<int32_t>(s.size()));
      write_bytes(f, s.data(), s.size(), path);
    };
    put_int(static_cast<int32_t>(m.mean_squares.size()));
    for (const auto& [name, mean] : m.mean_squares) {  // std::map: sorted by name, as llama.cpp writes them
      put_string(name);
      put_int(chunks);
      put_int(static_cast<int32_t>(mean.size()));
      std::vector<float> scaled(mean);
      for (float& v : scaled) v *= static_cast<float>(chunks);
      write_bytes(f, scaled.data(), scaled.size() * sizeof(float), path);
    }
    put_int(chunks);
    put_string(m.dataset);
  });
}

void write_gguf(const std::string& path, const Imatrix& m) {
  io::GgufWriter w;
  w.add("general.type", io::GgufValue::string("imatrix"));
  const std::vector<std::string> datasets = {m.dataset};
  w.add("imatrix.datasets", io::GgufValue::string_array(std::span<const std::string>(datasets)));
  const int64_t chunk = m.chunk_size > 0 ? m.chunk_size : std::max<int64_t>(m.tokens, 1);
  w.add("imatrix.chunk_count", io::GgufValue::uint32(static_cast<uint32_t>((m.tokens + chunk - 1) / chunk)));
  w.add("imatrix.chunk_size", io::GgufValue::uint32(static_cast<uint32_t>(chunk)));
  for (const auto& [name, mean] : m.mean_squares) {
    std::vector<uint8_t> sums(mean.size() * sizeof(float));
    for (size_t i = 0; i < mean.size(); ++i) {
      const float s = mean[i] * static_cast<float>(m.tokens);
      std::memcpy(&sums[i * sizeof(float)], &s, sizeof s);
    }
    const float count = static_cast<float>(m.tokens);
    std::vector<uint8_t> counts(sizeof(float));
    std::memcpy(counts.data(), &count, sizeof count);
    w.add_tensor(name + kInSum2, io::GgmlType::F32, {static_cast<int64_t>(mean.size()), 1}, std::move(sums));
    w.add_tensor(name + kCounts, io::GgmlType::F32, {1, 1}, std::move(counts));
  }
  w.write(path);
}

}  // namespace

std::map<std::string, std::vector<float>> read_imatrix(const std::string& path) {
  const std::string bytes = read_text_file(path);
  if (bytes.compare(0, 4, "GGUF") == 0) return read_gguf(path);
  return read_legacy(path, bytes);
}

void write_imatrix(const std::string& path, const Imatrix& m) {
  NIBBLE_CHECK(!m.mean_squares.empty(), path, ": no imatrix entries to write");
  if (ends_with(path, ".gguf")) write_gguf(path, m);
  else write_legacy(path, m);
}

std::string gguf_linear_name(const std::string& hf_name) {
  const std::optional<std::string> name = io::gguf_name_for(hf_name + ".weight");
  NIBBLE_CHECK(name && name->starts_with("blk.") && hf_name.ends_with("_proj"), hf_name,
               " is not a Llama decoder linear (model.layers.N.{self_attn,mlp}.*_proj)");
  return *name;
}

Imatrix compute_imatrix(const io::ModelSource& source, const std::vector<std::vector<int>>& calibration) {
  NIBBLE_CHECK(!calibration.empty() && !calibration[0].empty(), "imatrix: no calibration tokens");
  Imatrix m;
  m.chunk_size = static_cast<int>(calibration[0].size());
  m.tokens = static_cast<int64_t>(calibration.size()) * m.chunk_size;
  // An observing method: it reads each linear's input statistics and returns
  // no codes, so the pipeline keeps the float weights for the later stages.
  const LinearMethod observe = [&](const std::string& name, const std::vector<float>&, int64_t, int64_t cols,
                                   const HessianAccumulator* h) {
    const std::vector<float> sums = h->sum_of_squares();
    std::vector<float> mean(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) mean[c] = static_cast<float>(double(sums[c]) / double(m.tokens));
    m.mean_squares[gguf_linear_name(name)] = std::move(mean);
    return GptqOutput{};
  };
  PipelineOptions options;
  options.report_errors = false;
  run_layer_pipeline(source, calibration, options, observe, nullptr, [](LayerResult&&) {});
  return m;
}

}  // namespace nibble::quant
