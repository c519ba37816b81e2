// GGUF reader. Every length and count is checked against the bytes that
// remain before anything is read or reserved, so a corrupt file costs at
// most a few times its own size in memory and never reads past its end.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "io/gguf.h"

namespace nibble::io {

namespace {

// Smallest possible encodings, used to bound counts before reserving.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;               // key len, key, type, UINT8
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name len, name, n_dims, ne[0], type, offset
constexpr uint64_t kMinArrayBytes = 4 + 8;                    // element type, count
constexpr uint64_t kMinStringBytes = 8;                       // length

uint64_t min_element_bytes(GgufValueType t) {
  if (t == GgufValueType::STRING) return kMinStringBytes;
  if (t == GgufValueType::ARRAY) return kMinArrayBytes;
  return gguf_value_type_size(t);
}

}  // namespace

// Parses one buffer into a GgufFile. `where_` names the record being read
// so that every error says which key or tensor was bad.
class GgufReaderImpl {
 public:
  GgufReaderImpl(GgufFile& out, const uint8_t* data, size_t size)
      : out_(out), data_(data), size_(size) {}

  void run() {
    read_header();
    read_metadata();
    read_alignment();
    read_tensor_infos();
    place_tensors();
  }

 private:
  template <class... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail(out_.path_, ": ", where_, ": ", args...);
  }

  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      bad(what, " at offset ", pos_, " needs ", n, " bytes but the file ends after ", remaining(),
          " (file size ", size_, ")");
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      bad(what, " at offset ", at, " has length ", len, ", past the end of the file (",
          remaining(), " bytes remain, file size ", size_, ")");
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), size_t(len));
    pos_ += len;
    return s;
  }

  GgufValueType read_value_type(const char* what) {
    const uint64_t at = pos_;
    const uint32_t id = read<uint32_t>(what);
    if (!gguf_value_type_is_valid(id))
      bad(what, " at offset ", at, " is ", int32_t(id), ", not a GGUF value type (0..12)");
    return GgufValueType(id);
  }

  void read_header() {
    where_ = "header";
    if (size_ >= 4 && std::memcmp(data_, "GGUF", 4) != 0)
      bad("bad magic ", hex4(data_), ", not a GGUF file (expected \"GGUF\")");
    need(24, "GGUF header (magic, version, tensor and key counts)");
    pos_ = 4;
    const uint32_t version = read<uint32_t>("version");
    if (version == 1) bad("GGUF version 1 is not supported (need version 2 or 3)");
    if (version != 2 && version != 3) {
      if ((version & 0xFFFF) == 0 && version != 0)
        bad("version field reads ", version, ": a big-endian GGUF, which is not supported");
      bad("unsupported GGUF version ", version, " (need 2 or 3)");
    }
    out_.version_ = version;
    const int64_t n_tensors = read<int64_t>("tensor count");
    const int64_t n_kv = read<int64_t>("metadata key count");
    const uint64_t rest = remaining();
    if (n_tensors < 0 || uint64_t(n_tensors) > rest / kMinTensorInfoBytes)
      bad("tensor count ", n_tensors, " is impossible for a file of ", size_, " bytes");
    if (n_kv < 0 || uint64_t(n_kv) > rest / kMinKvBytes)
      bad("metadata key count ", n_kv, " is impossible for a file of ", size_, " bytes");
    // Both are now below 2^64 / 14, so this cannot overflow.
    if (uint64_t(n_tensors) * kMinTensorInfoBytes + uint64_t(n_kv) * kMinKvBytes > rest)
      bad(n_tensors, " tensors and ", n_kv, " metadata keys cannot fit in a file of ", size_,
          " bytes");
    n_tensors_ = uint64_t(n_tensors);
    n_kv_ = uint64_t(n_kv);
  }

  void read_metadata() {
    for (uint64_t k = 0; k < n_kv_; ++k) {
      where_ = cat("metadata key #", k);
      const std::string_view key = read_string("key");
      if (key.empty()) bad("empty key");
      where_ = cat("key '", key, "'");
      if (out_.key_index_.count(key)) bad("duplicate key");
      const GgufValueType type = read_value_type("value type");
      GgufValue value = read_value(type, 0);
      out_.key_index_.emplace(std::string(key), out_.metadata_.size());
      out_.metadata_.emplace_back(std::string(key), std::move(value));
    }
  }

  // `depth` counts the arrays enclosing this value.
  GgufValue read_value(GgufValueType type, int depth) {
    GgufValue v;
    v.type_ = type;
    v.borrowed_ = true;
    switch (type) {
      case GgufValueType::UINT8: v.scalar_.u = read<uint8_t>("UINT8 value"); break;
      case GgufValueType::INT8: v.scalar_.i = read<int8_t>("INT8 value"); break;
      case GgufValueType::UINT16: v.scalar_.u = read<uint16_t>("UINT16 value"); break;
      case GgufValueType::INT16: v.scalar_.i = read<int16_t>("INT16 value"); break;
      case GgufValueType::UINT32: v.scalar_.u = read<uint32_t>("UINT32 value"); break;
      case GgufValueType::INT32: v.scalar_.i = read<int32_t>("INT32 value"); break;
      case GgufValueType::UINT64: v.scalar_.u = read<uint64_t>("UINT64 value"); break;
      case GgufValueType::INT64: v.scalar_.i = read<int64_t>("INT64 value"); break;
      case GgufValueType::FLOAT32: v.scalar_.f = read<float>("FLOAT32 value"); break;
      case GgufValueType::FLOAT64: v.scalar_.f = read<double>("FLOAT64 value"); break;
      case GgufValueType::BOOL: v.scalar_.u = read<uint8_t>("BOOL value") != 0; break;
      case GgufValueType::STRING: v.str_ = read_string("STRING value"); break;
      case GgufValueType::ARRAY: read_array(v, depth + 1); break;
    }
    return v;
  }

  void read_array(GgufValue& v, int depth) {
    if (depth > GgufFile::kMaxArrayDepth)
      bad("arrays nested deeper than ", GgufFile::kMaxArrayDepth, " levels");
    const GgufValueType elem = read_value_type("array element type");
    const uint64_t at = pos_;
    const uint64_t count = read<uint64_t>("array length");
    const uint64_t min_bytes = min_element_bytes(elem);
    if (count > remaining() / min_bytes)
      bad("array of ", gguf_value_type_name(elem), " at offset ", at, " claims ", count,
          " elements, more than the ", remaining(), " remaining bytes can hold");
    v.elem_type_ = elem;
    v.count_ = count;
    if (elem == GgufValueType::STRING) {
      v.strings_.reserve(size_t(count));
      for (uint64_t i = 0; i < count; ++i) v.strings_.push_back(read_string("array string"));
    } else if (elem == GgufValueType::ARRAY) {
      v.items_.reserve(size_t(count));
      for (uint64_t i = 0; i < count; ++i) v.items_.push_back(read_value(elem, depth));
    } else {
      v.raw_ = data_ + pos_;
      pos_ += count * min_bytes;  // checked above
    }
  }

  void read_alignment() {
    where_ = "key 'general.alignment'";
    const GgufValue* a = out_.find("general.alignment");
    if (!a) return;
    if (a->type() != GgufValueType::UINT32) bad("must be UINT32, found ", a->describe());
    const uint64_t v = a->as_uint();
    if (v == 0 || (v & (v - 1)) != 0) bad("alignment ", v, " is not a power of two");
    out_.alignment_ = uint32_t(v);
  }

  void read_tensor_infos() {
    out_.tensors_.reserve(size_t(n_tensors_));  // bounded by the header check
    for (uint64_t t = 0; t < n_tensors_; ++t) {
      where_ = cat("tensor #", t);
      GgufTensorInfo info;
      const std::string_view name = read_string("tensor name");
      if (name.empty()) bad("empty tensor name");
      where_ = cat("tensor #", t, " '", name.substr(0, 80), "'");
      if (name.size() > GgufFile::kMaxNameLength)
        bad("name is ", name.size(), " bytes, longer than ", GgufFile::kMaxNameLength);
      if (out_.tensor_index_.count(name)) bad("duplicate tensor name");
      info.name = std::string(name);

      const uint32_t n_dims = read<uint32_t>("n_dims");
      if (n_dims < 1 || n_dims > uint32_t(GgufFile::kMaxDims))
        bad("n_dims ", n_dims, " is outside 1..", GgufFile::kMaxDims);
      info.ne.resize(n_dims);
      for (uint32_t d = 0; d < n_dims; ++d) {
        info.ne[d] = read<int64_t>("dimension");
        if (info.ne[d] <= 0) bad("dimension ne[", d, "] = ", info.ne[d], " is not positive");
      }
      const uint64_t type_at = pos_;
      const uint32_t type_id = read<uint32_t>("ggml type");
      const GgmlTypeInfo* type = ggml_type_info(type_id);
      if (!type) bad("unknown ggml type ", int32_t(type_id), " at offset ", type_at);
      info.type = type->type;
      try {
        info.nbytes = ggml_nbytes(info.type, info.ne);
      } catch (const Error& e) {
        bad(ggml_type_name(info.type), " ", dims_string(info.ne), ": ", e.what());
      }
      info.offset = read<uint64_t>("data offset");
      if (info.offset % out_.alignment_ != 0)
        bad("data offset ", info.offset, " is not a multiple of the alignment ", out_.alignment_);
      out_.tensor_index_.emplace(info.name, out_.tensors_.size());
      out_.tensors_.push_back(std::move(info));
    }
  }

  void place_tensors() {
    where_ = "data section";
    // pos_ <= size_ and alignment <= 2^31, so this cannot overflow.
    const uint64_t a = out_.alignment_;
    out_.data_offset_ = (uint64_t(pos_) + a - 1) / a * a;
    out_.size_ = size_;
    const uint64_t data_size = out_.data_offset_ <= size_ ? size_ - out_.data_offset_ : 0;
    for (GgufTensorInfo& t : out_.tensors_) {
      if (t.offset > data_size || t.nbytes > data_size - t.offset) {
        where_ = cat("tensor '", t.name, "'");
        bad(ggml_type_name(t.type), " ", dims_string(t.ne), " needs ", t.nbytes,
            " bytes at data offset ", t.offset, ", past the end of the ", data_size,
            "-byte data section");
      }
      t.data = data_ + out_.data_offset_ + t.offset;
    }
    std::vector<const GgufTensorInfo*> order;
    order.reserve(out_.tensors_.size());
    for (const GgufTensorInfo& t : out_.tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(),
              [](const GgufTensorInfo* x, const GgufTensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const GgufTensorInfo& p = *order[i - 1];
      const GgufTensorInfo& q = *order[i];
      if (p.offset + p.nbytes > q.offset)
        bad("tensors '", p.name, "' [", p.offset, ", ", p.offset + p.nbytes, ") and '", q.name,
            "' [", q.offset, ", ", q.offset + q.nbytes, ") overlap");
    }
  }

  static std::string hex4(const uint8_t* p) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 4; ++i) {
      s += digits[p[i] >> 4];
      s += digits[p[i] & 15];
      if (i < 3) s += ' ';
    }
    return s;
  }

  static std::string dims_string(const std::vector<int64_t>& ne) {
    std::string s = "ne=[";
    for (size_t i = 0; i < ne.size(); ++i) s += cat(i ? ", " : "", ne[i]);
    return s + "]";
  }

  GgufFile& out_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  std::string where_;
};

// ---------------------------------------------------------------- GgufFile

GgufFile::GgufFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)), path_(path) {
  parse(file_->data(), file_->size());
}

GgufFile GgufFile::from_memory(const uint8_t* data, size_t size, const std::string& label) {
  GgufFile f;
  f.path_ = label;
  f.parse(data, size);
  return f;
}

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

void GgufFile::parse(const uint8_t* data, size_t size) {
  static const uint8_t kEmpty[1] = {0};
  GgufReaderImpl(*this, data ? data : kEmpty, data ? size : 0).run();
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::get(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) fail(path_, ": missing metadata key '", key, "'");
  return *v;
}

namespace {
// Runs a typed accessor, prefixing a type mismatch with the file and key.
template <class F>
auto with_key(const std::string& path, std::string_view key, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    fail(path, ": key '", key, "': ", e.what());
  }
}
}  // namespace

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_string(); });
}
int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_int(); });
}
uint64_t GgufFile::get_uint(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_uint(); });
}
double GgufFile::get_float(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_float(); });
}
bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_bool(); });
}
const std::vector<std::string_view>& GgufFile::get_strings(std::string_view key) const {
  const GgufValue& v = get(key);
  return *with_key(path_, key, [&] { return &v.as_strings(); });
}
std::vector<int64_t> GgufFile::get_ints(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_ints(); });
}
std::vector<double> GgufFile::get_floats(std::string_view key) const {
  const GgufValue& v = get(key);
  return with_key(path_, key, [&] { return v.as_floats(); });
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  const GgufTensorInfo* t = find_tensor(name);
  if (!t) fail(path_, ": no tensor named '", name, "'");
  return *t;
}

}  // namespace nibble::io
