// The ggml type table and GgufValue, shared by the GGUF reader and writer.
#include <array>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "io/gguf.h"

namespace nibble::io {

static_assert(std::endian::native == std::endian::little,
              "GGUF values are read and written as host-order little-endian bytes");

// ---------------------------------------------------------------- ggml types

namespace {

// Block sizes and bytes per block from ggml's type traits (ggml.c) and block
// structs (ggml-common.h); see shared/specs/gguf.md §4.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {GgmlType::F32, "F32", 1, 4},          {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},      {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},      {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},      {GgmlType::Q8_1, "Q8_1", 32, 36},
    {GgmlType::Q2_K, "Q2_K", 256, 84},     {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},    {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66}, {GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98}, {GgmlType::IQ1_S, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18},  {GgmlType::IQ3_S, "IQ3_S", 256, 110},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82},   {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
    {GgmlType::I8, "I8", 1, 1},            {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},          {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},          {GgmlType::IQ1_M, "IQ1_M", 256, 56},
    {GgmlType::BF16, "BF16", 1, 2},        {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},   {GgmlType::MXFP4, "MXFP4", 32, 17},
};

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const GgmlTypeInfo& t : kGgmlTypes)
    if (uint32_t(t.type) == id) return &t;
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
  if (!info) fail("unknown ggml type id ", uint32_t(type));
  return *info;
}

const char* ggml_type_name(GgmlType type) {
  const GgmlTypeInfo* info = ggml_type_info(uint32_t(type));
  return info ? info->name : "unknown";
}

uint64_t ggml_nbytes(GgmlType type, std::span<const int64_t> ne) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  NIBBLE_CHECK(!ne.empty(), "a tensor needs at least one dimension");
  for (size_t i = 0; i < ne.size(); ++i)
    NIBBLE_CHECK(ne[i] > 0, "dimension ne[", i, "] = ", ne[i], " is not positive");
  NIBBLE_CHECK(ne[0] % info.block_size == 0, "row length ne[0] = ", ne[0],
               " is not a multiple of the ", info.name, " block size ", info.block_size);
  uint64_t bytes = 0;
  NIBBLE_CHECK(!__builtin_mul_overflow(uint64_t(ne[0] / info.block_size), info.type_size, &bytes),
               "tensor size overflows a signed 64-bit byte count");
  uint64_t numel = uint64_t(ne[0]);
  for (size_t i = 1; i < ne.size(); ++i) {
    NIBBLE_CHECK(!__builtin_mul_overflow(numel, uint64_t(ne[i]), &numel) &&
                     numel <= uint64_t(INT64_MAX) &&
                     !__builtin_mul_overflow(bytes, uint64_t(ne[i]), &bytes),
                 "tensor size overflows a signed 64-bit byte count");
  }
  NIBBLE_CHECK(bytes <= uint64_t(INT64_MAX), "tensor size overflows a signed 64-bit byte count");
  return bytes;
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // the reader checked that this does not overflow
  return n;
}

// ---------------------------------------------------------------- value types

const char* gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "UINT8";
    case GgufValueType::INT8: return "INT8";
    case GgufValueType::UINT16: return "UINT16";
    case GgufValueType::INT16: return "INT16";
    case GgufValueType::UINT32: return "UINT32";
    case GgufValueType::INT32: return "INT32";
    case GgufValueType::FLOAT32: return "FLOAT32";
    case GgufValueType::BOOL: return "BOOL";
    case GgufValueType::STRING: return "STRING";
    case GgufValueType::ARRAY: return "ARRAY";
    case GgufValueType::UINT64: return "UINT64";
    case GgufValueType::INT64: return "INT64";
    case GgufValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown";
}

bool gguf_value_type_is_valid(uint32_t id) { return id <= uint32_t(GgufValueType::FLOAT64); }

size_t gguf_value_type_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY: return 0;
  }
  return 0;
}

namespace {

bool is_signed_int(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
         t == GgufValueType::INT64;
}
bool is_unsigned_int(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
         t == GgufValueType::UINT64;
}

[[noreturn]] void type_mismatch(const char* expected, const GgufValue& v) {
  fail("expected ", expected, ", found ", v.describe());
}

// Element `i` of a fixed-size little-endian array, widened.
int64_t int_element(const uint8_t* raw, GgufValueType t, uint64_t i, bool* negative_or_big) {
  switch (t) {
    case GgufValueType::UINT8: return raw[i];
    case GgufValueType::INT8: return int8_t(raw[i]);
    case GgufValueType::UINT16: { uint16_t v; std::memcpy(&v, raw + 2 * i, 2); return v; }
    case GgufValueType::INT16: { int16_t v; std::memcpy(&v, raw + 2 * i, 2); return v; }
    case GgufValueType::UINT32: { uint32_t v; std::memcpy(&v, raw + 4 * i, 4); return v; }
    case GgufValueType::INT32: { int32_t v; std::memcpy(&v, raw + 4 * i, 4); return v; }
    case GgufValueType::UINT64: {
      uint64_t v;
      std::memcpy(&v, raw + 8 * i, 8);
      if (v > uint64_t(INT64_MAX)) *negative_or_big = true;
      return int64_t(v);
    }
    case GgufValueType::INT64: { int64_t v; std::memcpy(&v, raw + 8 * i, 8); return v; }
    default: return 0;
  }
}

}  // namespace

// ---------------------------------------------------------------- GgufValue

#define NIBBLE_GGUF_SCALAR(fn, ctype, vtype, field) \
  GgufValue GgufValue::fn(ctype v) {                \
    GgufValue out;                                  \
    out.type_ = GgufValueType::vtype;               \
    out.scalar_.field = v;                          \
    return out;                                     \
  }
NIBBLE_GGUF_SCALAR(uint8, uint8_t, UINT8, u)
NIBBLE_GGUF_SCALAR(int8, int8_t, INT8, i)
NIBBLE_GGUF_SCALAR(uint16, uint16_t, UINT16, u)
NIBBLE_GGUF_SCALAR(int16, int16_t, INT16, i)
NIBBLE_GGUF_SCALAR(uint32, uint32_t, UINT32, u)
NIBBLE_GGUF_SCALAR(int32, int32_t, INT32, i)
NIBBLE_GGUF_SCALAR(uint64, uint64_t, UINT64, u)
NIBBLE_GGUF_SCALAR(int64, int64_t, INT64, i)
NIBBLE_GGUF_SCALAR(float32, float, FLOAT32, f)
NIBBLE_GGUF_SCALAR(float64, double, FLOAT64, f)
#undef NIBBLE_GGUF_SCALAR

GgufValue GgufValue::boolean(bool v) {
  GgufValue out;
  out.type_ = GgufValueType::BOOL;
  out.scalar_.u = v ? 1 : 0;
  return out;
}

GgufValue GgufValue::string(std::string_view v) {
  GgufValue out;
  out.type_ = GgufValueType::STRING;
  auto storage = std::make_shared<const std::string>(v);
  out.str_ = *storage;
  out.storage_ = std::move(storage);
  return out;
}

namespace {
template <class T> constexpr GgufValueType element_type_of();
template <> constexpr GgufValueType element_type_of<uint8_t>() { return GgufValueType::UINT8; }
template <> constexpr GgufValueType element_type_of<int8_t>() { return GgufValueType::INT8; }
template <> constexpr GgufValueType element_type_of<uint16_t>() { return GgufValueType::UINT16; }
template <> constexpr GgufValueType element_type_of<int16_t>() { return GgufValueType::INT16; }
template <> constexpr GgufValueType element_type_of<uint32_t>() { return GgufValueType::UINT32; }
template <> constexpr GgufValueType element_type_of<int32_t>() { return GgufValueType::INT32; }
template <> constexpr GgufValueType element_type_of<uint64_t>() { return GgufValueType::UINT64; }
template <> constexpr GgufValueType element_type_of<int64_t>() { return GgufValueType::INT64; }
template <> constexpr GgufValueType element_type_of<float>() { return GgufValueType::FLOAT32; }
template <> constexpr GgufValueType element_type_of<double>() { return GgufValueType::FLOAT64; }
}  // namespace

template <class T>
GgufValue GgufValue::array(std::span<const T> values) {
  GgufValue out;
  out.type_ = GgufValueType::ARRAY;
  out.elem_type_ = element_type_of<T>();
  out.count_ = values.size();
  auto storage = std::make_shared<const std::string>(reinterpret_cast<const char*>(values.data()),
                                                     values.size_bytes());
  out.raw_ = reinterpret_cast<const uint8_t*>(storage->data());
  out.storage_ = std::move(storage);
  return out;
}
template GgufValue GgufValue::array(std::span<const uint8_t>);
template GgufValue GgufValue::array(std::span<const int8_t>);
template GgufValue GgufValue::array(std::span<const uint16_t>);
template GgufValue GgufValue::array(std::span<const int16_t>);
template GgufValue GgufValue::array(std::span<const uint32_t>);
template GgufValue GgufValue::array(std::span<const int32_t>);
template GgufValue GgufValue::array(std::span<const uint64_t>);
template GgufValue GgufValue::array(std::span<const int64_t>);
template GgufValue GgufValue::array(std::span<const float>);
template GgufValue GgufValue::array(std::span<const double>);

GgufValue GgufValue::bool_array(const std::vector<bool>& values) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  GgufValue out = array(std::span<const uint8_t>(bytes));
  out.elem_type_ = GgufValueType::BOOL;
  return out;
}

GgufValue GgufValue::string_array(std::span<const std::string> values) {
  std::vector<std::string_view> views(values.begin(), values.end());
  return string_array(std::span<const std::string_view>(views));
}

GgufValue GgufValue::string_array(std::span<const std::string_view> values) {
  GgufValue out;
  out.type_ = GgufValueType::ARRAY;
  out.elem_type_ = GgufValueType::STRING;
  out.count_ = values.size();
  size_t total = 0;
  for (std::string_view s : values) total += s.size();
  auto storage = std::make_shared<std::string>();
  storage->reserve(total);
  for (std::string_view s : values) storage->append(s);
  out.strings_.reserve(values.size());
  size_t pos = 0;
  for (std::string_view s : values) {
    out.strings_.emplace_back(storage->data() + pos, s.size());
    pos += s.size();
  }
  out.storage_ = std::move(storage);
  return out;
}

GgufValue GgufValue::array_of_arrays(std::vector<GgufValue> items) {
  GgufValue out;
  out.type_ = GgufValueType::ARRAY;
  out.elem_type_ = GgufValueType::ARRAY;
  out.count_ = items.size();
  for (size_t i = 0; i < items.size(); ++i) {
    NIBBLE_CHECK(items[i].is_array(), "array of arrays: item ", i, " is ", items[i].describe(),
                 ", not an array");
    out.borrowed_ = out.borrowed_ || items[i].borrowed_;
  }
  out.items_ = std::move(items);
  return out;
}

bool GgufValue::is_integer() const { return is_signed_int(type_) || is_unsigned_int(type_); }

std::string_view GgufValue::as_string() const {
  if (type_ != GgufValueType::STRING) type_mismatch("STRING", *this);
  return str_;
}

int64_t GgufValue::as_int() const {
  if (is_signed_int(type_)) return scalar_.i;
  if (is_unsigned_int(type_)) {
    NIBBLE_CHECK(scalar_.u <= uint64_t(INT64_MAX), "UINT64 value ", scalar_.u,
                 " does not fit a signed 64-bit integer");
    return int64_t(scalar_.u);
  }
  type_mismatch("an integer", *this);
}

uint64_t GgufValue::as_uint() const {
  if (is_unsigned_int(type_)) return scalar_.u;
  if (is_signed_int(type_)) {
    NIBBLE_CHECK(scalar_.i >= 0, gguf_value_type_name(type_), " value ", scalar_.i,
                 " is negative, expected a non-negative integer");
    return uint64_t(scalar_.i);
  }
  type_mismatch("an integer", *this);
}

double GgufValue::as_float() const {
  if (!is_float()) type_mismatch("FLOAT32 or FLOAT64", *this);
  return scalar_.f;
}

bool GgufValue::as_bool() const {
  if (type_ != GgufValueType::BOOL) type_mismatch("BOOL", *this);
  return scalar_.u != 0;
}

GgufValueType GgufValue::array_type() const {
  if (!is_array()) type_mismatch("ARRAY", *this);
  return elem_type_;
}

uint64_t GgufValue::size() const {
  if (!is_array()) type_mismatch("ARRAY", *this);
  return count_;
}

const std::vector<std::string_view>& GgufValue::as_strings() const {
  if (!is_array() || elem_type_ != GgufValueType::STRING) type_mismatch("ARRAY[STRING]", *this);
  return strings_;
}

std::vector<int64_t> GgufValue::as_ints() const {
  if (!is_array() || !(is_signed_int(elem_type_) || is_unsigned_int(elem_type_)))
    type_mismatch("ARRAY of integers", *this);
  std::vector<int64_t> out(count_);
  bool too_big = false;
  for (uint64_t i = 0; i < count_; ++i) out[i] = int_element(raw_, elem_type_, i, &too_big);
  NIBBLE_CHECK(!too_big, "ARRAY[UINT64] holds a value that does not fit a signed 64-bit integer");
  return out;
}

std::vector<double> GgufValue::as_floats() const {
  if (!is_array() || (elem_type_ != GgufValueType::FLOAT32 && elem_type_ != GgufValueType::FLOAT64))
    type_mismatch("ARRAY of FLOAT32 or FLOAT64", *this);
  std::vector<double> out(count_);
  for (uint64_t i = 0; i < count_; ++i) {
    if (elem_type_ == GgufValueType::FLOAT32) {
      float v;
      std::memcpy(&v, raw_ + 4 * i, 4);
      out[i] = v;
    } else {
      std::memcpy(&out[i], raw_ + 8 * i, 8);
    }
  }
  return out;
}

std::vector<bool> GgufValue::as_bools() const {
  if (!is_array() || elem_type_ != GgufValueType::BOOL) type_mismatch("ARRAY[BOOL]", *this);
  std::vector<bool> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = raw_[i] != 0;
  return out;
}

const std::vector<GgufValue>& GgufValue::as_arrays() const {
  if (!is_array() || elem_type_ != GgufValueType::ARRAY) type_mismatch("ARRAY[ARRAY]", *this);
  return items_;
}

std::span<const uint8_t> GgufValue::raw_elements() const {
  const size_t elem = is_array() ? gguf_value_type_size(elem_type_) : 0;
  if (elem == 0) type_mismatch("ARRAY of a fixed-size type", *this);
  return {raw_, size_t(count_ * elem)};
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case GgufValueType::STRING: return str_ == o.str_;
    case GgufValueType::ARRAY: {
      if (elem_type_ != o.elem_type_ || count_ != o.count_) return false;
      if (elem_type_ == GgufValueType::STRING) return strings_ == o.strings_;
      if (elem_type_ == GgufValueType::ARRAY) return items_ == o.items_;
      const size_t n = size_t(count_ * gguf_value_type_size(elem_type_));
      return n == 0 || std::memcmp(raw_, o.raw_, n) == 0;
    }
    default: return std::memcmp(&scalar_, &o.scalar_, sizeof scalar_) == 0;  // floats bitwise
  }
}

GgufValue GgufValue::to_owned() const {
  if (!borrowed_) return *this;
  GgufValue out = *this;
  out.borrowed_ = false;
  if (type_ == GgufValueType::STRING) return string(str_);
  if (type_ != GgufValueType::ARRAY) return out;
  if (elem_type_ == GgufValueType::STRING)
    return string_array(std::span<const std::string_view>(strings_));
  if (elem_type_ == GgufValueType::ARRAY) {
    for (GgufValue& item : out.items_) item = item.to_owned();
    return out;
  }
  const auto bytes = raw_elements();
  auto storage = std::make_shared<const std::string>(reinterpret_cast<const char*>(bytes.data()),
                                                     bytes.size());
  out.raw_ = reinterpret_cast<const uint8_t*>(storage->data());
  out.storage_ = std::move(storage);
  return out;
}

std::string GgufValue::describe() const {
  switch (type_) {
    case GgufValueType::STRING: {
      std::string s(str_.substr(0, 40));
      return cat("STRING \"", s, str_.size() > 40 ? "...\"" : "\"");
    }
    case GgufValueType::ARRAY:
      return cat("ARRAY[", gguf_value_type_name(elem_type_), "] of ", count_);
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64: return cat(gguf_value_type_name(type_), " ", scalar_.f);
    case GgufValueType::BOOL: return scalar_.u ? "BOOL true" : "BOOL false";
    default:
      if (is_signed_int(type_)) return cat(gguf_value_type_name(type_), " ", scalar_.i);
      return cat(gguf_value_type_name(type_), " ", scalar_.u);
  }
}

}  // namespace nibble::io
