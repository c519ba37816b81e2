// GGUF v3 writer: header in memory, tensor data streamed into a temporary
// file that is renamed into place when complete.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "io/gguf.h"

namespace nibble::io {

// Serializes metadata values (friend of GgufValue).
class GgufValueCodec {
 public:
  static void put_bytes(std::string& out, const void* p, size_t n) {
    out.append(static_cast<const char*>(p), n);
  }
  template <class T>
  static void put(std::string& out, T v) {
    put_bytes(out, &v, sizeof v);
  }
  static void put_string(std::string& out, std::string_view s) {
    put<uint64_t>(out, s.size());
    put_bytes(out, s.data(), s.size());
  }

  // The payload of `v` (without its type tag).
  static void encode(std::string& out, const GgufValue& v) {
    switch (v.type_) {
      case GgufValueType::UINT8: put<uint8_t>(out, uint8_t(v.scalar_.u)); break;
      case GgufValueType::INT8: put<int8_t>(out, int8_t(v.scalar_.i)); break;
      case GgufValueType::UINT16: put<uint16_t>(out, uint16_t(v.scalar_.u)); break;
      case GgufValueType::INT16: put<int16_t>(out, int16_t(v.scalar_.i)); break;
      case GgufValueType::UINT32: put<uint32_t>(out, uint32_t(v.scalar_.u)); break;
      case GgufValueType::INT32: put<int32_t>(out, int32_t(v.scalar_.i)); break;
      case GgufValueType::UINT64: put<uint64_t>(out, v.scalar_.u); break;
      case GgufValueType::INT64: put<int64_t>(out, v.scalar_.i); break;
      case GgufValueType::FLOAT32: put<float>(out, float(v.scalar_.f)); break;
      case GgufValueType::FLOAT64: put<double>(out, v.scalar_.f); break;
      case GgufValueType::BOOL: put<uint8_t>(out, v.scalar_.u ? 1 : 0); break;
      case GgufValueType::STRING: put_string(out, v.str_); break;
      case GgufValueType::ARRAY:
        put<uint32_t>(out, uint32_t(v.elem_type_));
        put<uint64_t>(out, v.count_);
        if (v.elem_type_ == GgufValueType::STRING) {
          for (std::string_view s : v.strings_) put_string(out, s);
        } else if (v.elem_type_ == GgufValueType::ARRAY) {
          for (const GgufValue& item : v.items_) encode(out, item);
        } else if (v.elem_type_ == GgufValueType::BOOL) {
          for (uint64_t i = 0; i < v.count_; ++i) put<uint8_t>(out, v.raw_[i] ? 1 : 0);
        } else {
          const auto raw = v.raw_elements();
          put_bytes(out, raw.data(), raw.size());
        }
        break;
    }
  }

  // Depth of array nesting: 0 for a scalar, 1 for a flat array.
  static int depth(const GgufValue& v) {
    if (!v.is_array()) return 0;
    int inner = 0;
    for (const GgufValue& item : v.items_) inner = std::max(inner, depth(item));
    return 1 + inner;
  }
};

namespace {

void check_alignment(uint64_t a) {
  NIBBLE_CHECK(a != 0 && (a & (a - 1)) == 0 && a <= (uint64_t(1) << 31),
               "general.alignment ", a, " is not a power of two (up to 2^31)");
}

// Writes a tensor's bytes to the output file, refusing more than announced.
class FileSink : public GgufDataSink {
 public:
  FileSink(std::FILE* f, const std::string& path, const std::string& tensor, uint64_t expected)
      : f_(f), path_(path), tensor_(tensor), expected_(expected) {}
  void write(const void* data, size_t n) override {
    NIBBLE_CHECK(n <= expected_ - written_, path_, ": tensor '", tensor_, "': producer wrote more than its ",
                 expected_, " bytes");
    write_bytes(f_, data, n, path_);
    written_ += n;
  }
  uint64_t written() const { return written_; }

 private:
  std::FILE* f_;
  const std::string& path_;
  const std::string& tensor_;
  uint64_t expected_;
  uint64_t written_ = 0;
};

void write_zeros(std::FILE* f, uint64_t n, const std::string& path) {
  static const uint8_t zeros[4096] = {};
  while (n > 0) {
    const size_t k = size_t(std::min<uint64_t>(n, sizeof zeros));
    write_bytes(f, zeros, k, path);
    n -= k;
  }
}

}  // namespace

void GgufWriter::add(const std::string& key, GgufValue value) {
  NIBBLE_CHECK(!key.empty(), "GGUF metadata: empty key");
  NIBBLE_CHECK(!key_index_.count(key), "GGUF metadata: duplicate key '", key, "'");
  NIBBLE_CHECK(GgufValueCodec::depth(value) <= GgufFile::kMaxArrayDepth, "GGUF metadata: key '",
               key, "': arrays nested deeper than ", GgufFile::kMaxArrayDepth, " levels");
  if (key == "general.alignment") {
    NIBBLE_CHECK(value.type() == GgufValueType::UINT32,
                 "GGUF metadata: general.alignment must be UINT32, not ", value.describe());
    check_alignment(value.as_uint());
    NIBBLE_CHECK(tensors_.empty(), "GGUF metadata: set general.alignment before adding tensors");
    alignment_ = uint32_t(value.as_uint());
  }
  key_index_.emplace(key, metadata_.size());
  metadata_.emplace_back(key, value.borrowed() ? value.to_owned() : std::move(value));
}

void GgufWriter::set_alignment(uint32_t alignment) {
  check_alignment(alignment);
  auto it = key_index_.find("general.alignment");
  if (it == key_index_.end()) {
    add("general.alignment", GgufValue::uint32(alignment));
  } else {
    NIBBLE_CHECK(tensors_.empty(), "GGUF metadata: set general.alignment before adding tensors");
    metadata_[it->second].second = GgufValue::uint32(alignment);
    alignment_ = alignment;
  }
}

GgufWriter::Tensor GgufWriter::make_tensor(const std::string& name, GgmlType type,
                                           std::vector<int64_t> ne) const {
  NIBBLE_CHECK(!name.empty(), "GGUF tensor: empty name");
  NIBBLE_CHECK(name.size() <= GgufFile::kMaxNameLength, "GGUF tensor '", name, "': name is ",
               name.size(), " bytes, longer than ", GgufFile::kMaxNameLength);
  NIBBLE_CHECK(!tensor_index_.count(name), "GGUF tensor '", name, "': duplicate name");
  NIBBLE_CHECK(ggml_type_info(uint32_t(type)), "GGUF tensor '", name, "': unknown ggml type ",
               uint32_t(type));
  NIBBLE_CHECK(!ne.empty() && ne.size() <= size_t(GgufFile::kMaxDims), "GGUF tensor '", name,
               "': ", ne.size(), " dimensions, expected 1..", GgufFile::kMaxDims);
  Tensor t;
  try {
    t.nbytes = ggml_nbytes(type, ne);
  } catch (const Error& e) {
    fail("GGUF tensor '", name, "' (", ggml_type_name(type), "): ", e.what());
  }
  while (ne.size() > 1 && ne.back() == 1) ne.pop_back();  // as llama.cpp writes n_dims
  t.name = name;
  t.type = type;
  t.ne = std::move(ne);
  return t;
}

void GgufWriter::add_tensor_entry(Tensor t) {
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                            std::vector<uint8_t> bytes) {
  Tensor t = make_tensor(name, type, std::move(ne));
  NIBBLE_CHECK(bytes.size() == t.nbytes, "GGUF tensor '", name, "': ", bytes.size(),
               " bytes given, its type and shape need ", t.nbytes);
  t.owned = std::move(bytes);
  add_tensor_entry(std::move(t));
}

void GgufWriter::add_tensor_view(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                                 std::span<const uint8_t> bytes) {
  Tensor t = make_tensor(name, type, std::move(ne));
  NIBBLE_CHECK(bytes.size() == t.nbytes, "GGUF tensor '", name, "': ", bytes.size(),
               " bytes given, its type and shape need ", t.nbytes);
  t.view = bytes;
  add_tensor_entry(std::move(t));
}

void GgufWriter::add_tensor_streamed(const std::string& name, GgmlType type,
                                     std::vector<int64_t> ne, Producer produce) {
  NIBBLE_CHECK(bool(produce), "GGUF tensor '", name, "': no producer");
  Tensor t = make_tensor(name, type, std::move(ne));
  t.produce = std::move(produce);
  add_tensor_entry(std::move(t));
}

std::string GgufWriter::header_bytes() const {
  std::string out;
  out.append("GGUF", 4);
  GgufValueCodec::put<uint32_t>(out, 3);
  GgufValueCodec::put<int64_t>(out, int64_t(tensors_.size()));
  GgufValueCodec::put<int64_t>(out, int64_t(metadata_.size()));
  for (const auto& [key, value] : metadata_) {
    GgufValueCodec::put_string(out, key);
    GgufValueCodec::put<uint32_t>(out, uint32_t(value.type()));
    GgufValueCodec::encode(out, value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    GgufValueCodec::put_string(out, t.name);
    GgufValueCodec::put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) GgufValueCodec::put<int64_t>(out, d);
    GgufValueCodec::put<uint32_t>(out, uint32_t(t.type));
    GgufValueCodec::put<uint64_t>(out, offset);
    offset += padded(t.nbytes);
  }
  out.resize(size_t(padded(out.size())), '\0');
  return out;
}

uint64_t GgufWriter::file_size() const {
  uint64_t n = header_bytes().size();
  for (const Tensor& t : tensors_) n += padded(t.nbytes);
  return n;
}

void GgufWriter::write(const std::string& path) const {
  const std::string header = header_bytes();
  write_file_atomically(path, [&](std::FILE* f) {
    write_bytes(f, header.data(), header.size(), path);
    for (const Tensor& t : tensors_) {
      if (t.produce) {
        FileSink sink(f, path, t.name, t.nbytes);
        t.produce(sink);
        NIBBLE_CHECK(sink.written() == t.nbytes, path, ": tensor '", t.name, "': producer wrote ",
                     sink.written(), " of its ", t.nbytes, " bytes");
      } else if (!t.owned.empty()) {
        write_bytes(f, t.owned.data(), t.owned.size(), path);
      } else {
        write_bytes(f, t.view.data(), t.view.size(), path);
      }
      write_zeros(f, padded(t.nbytes) - t.nbytes, path);
    }
  });
}

}  // namespace nibble::io
