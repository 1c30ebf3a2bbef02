// Reading plain safetensors files and writing them through cellforge's checkpoint encoder; see
// safetensors_file.hpp.
#include "runtime/interop/safetensors_file.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "codegen/ir/error.hpp"
#include "runtime/train/json.hpp"
#include "runtime/train/safetensors.hpp"

namespace cellforge::interop {

static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian data");

namespace {

// What cellforge's encoder writes first; such a file is verified with its checksums.
constexpr std::string_view kCellforgeHeaderStart = "{\"__metadata__\":{\"checksum.crc32c.__header__\":\"0x";

// Every dtype of the safetensors format, with its element size in bytes.
size_t element_bytes(std::string_view dtype) {
  static const std::pair<std::string_view, size_t> kDtypes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"I64", 8}, {"U64", 8}, {"F64", 8}};
  for (const auto& [name, bytes] : kDtypes)
    if (name == dtype) return bytes;
  return 0;
}

std::string range(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

SafetensorsFile from_checkpoint_file(const train::TensorFile& file) {
  SafetensorsFile out;
  out.metadata = file.metadata;
  for (const train::StoredTensor& t : file.tensors) out.tensors.push_back({t.name, train::dtype_name(t.dtype), t.shape, t.bytes});
  return out;
}

struct Entry {
  RawTensor tensor;
  uint64_t begin = 0, end = 0;
};

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const RawTensor* SafetensorsFile::find(std::string_view name) const {
  for (const RawTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string label = "safetensors file '" + path + "'";
  return decode_safetensors(train::read_file_bytes(path, label), label);
}

SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& label) {
  auto fail = [&](const auto&... parts) { user_error(label, ": ", parts...); };
  const uint64_t size = bytes.size();
  if (size < 8) fail("the file is ", size, " bytes, shorter than the 8-byte header length; it is truncated or not safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > train::kMaxHeaderBytes)
    fail("the header declares ", n, " bytes, more than the ", train::kMaxHeaderBytes / 1000000,
         " MB limit; the file is corrupt or not safetensors");
  if (n > size - 8) fail("the header declares ", n, " bytes but only ", size - 8, " follow the length field; the file is truncated");
  if (bytes.substr(8, n).starts_with(kCellforgeHeaderStart))
    return from_checkpoint_file(train::decode_tensor_file(bytes, label));

  train::json::Value root;
  try {
    root = train::json::parse(bytes.substr(8, n));
  } catch (const train::json::ParseError& e) {
    fail("the header is not valid JSON (", e.what(), " of the header)");
  }
  if (root.kind != train::json::Value::Kind::object) fail("the header is not a JSON object");
  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") {
      if (value.kind != train::json::Value::Kind::object) fail("__metadata__ is not an object of strings");
      for (const auto& [key, text] : value.members) {
        if (text.kind != train::json::Value::Kind::string) fail("metadata '", key, "' is not a string");
        file.metadata[key] = text.text;
      }
      continue;
    }
    if (value.kind != train::json::Value::Kind::object) fail("tensor '", name, "' is not described by an object");
    const auto* dtype = value.find("dtype");
    const auto* shape = value.find("shape");
    const auto* offsets = value.find("data_offsets");
    if (!dtype || !shape || !offsets) fail("tensor '", name, "' lacks ", !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    Entry e;
    e.tensor.name = name;
    e.tensor.dtype = dtype->text;
    const size_t element = dtype->kind == train::json::Value::Kind::string ? element_bytes(dtype->text) : 0;
    if (!element)
      fail("tensor '", name, "' has the unknown dtype '", dtype->text,
           "'; safetensors knows BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64, F8_E4M3, F8_E5M2");
    if (shape->kind != train::json::Value::Kind::array || shape->items.size() > 8)
      fail("tensor '", name, "' has a shape that is not a list of at most 8 sizes");
    uint64_t expected = element;
    for (const auto& d : shape->items) {
      int64_t v;
      if (!d.as_count(&v)) fail("tensor '", name, "' has the shape entry '", d.text, "', not a size");
      if (v != 0 && expected > (uint64_t{1} << 62) / static_cast<uint64_t>(v))
        fail("tensor '", name, "' has a shape whose byte size overflows");
      expected *= static_cast<uint64_t>(v);
      e.tensor.shape.push_back(v);
    }
    int64_t begin, end;
    if (offsets->kind != train::json::Value::Kind::array || offsets->items.size() != 2 || !offsets->items[0].as_count(&begin) ||
        !offsets->items[1].as_count(&end) || end < begin)
      fail("tensor '", name, "' has data_offsets that are not [begin, end] with 0 <= begin <= end");
    e.begin = static_cast<uint64_t>(begin), e.end = static_cast<uint64_t>(end);
    if (expected != e.end - e.begin)
      fail("tensor '", name, "' declares ", e.tensor.dtype, shape_string(e.tensor.shape), " (", expected,
           " bytes) but its data range ", range(e.begin, e.end), " is ", e.end - e.begin, " bytes");
    entries.push_back(std::move(e));
  }
  // The tensors tile the data region, as the format requires.
  const uint64_t base = 8 + n, data_size = size - base;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin < at)
      fail("tensors '", entries[i - 1].tensor.name, "' ", range(entries[i - 1].begin, entries[i - 1].end), " and '",
           e.tensor.name, "' ", range(e.begin, e.end), " overlap");
    if (e.begin > at)
      fail("a hole of ", e.begin - at, " bytes before tensor '", e.tensor.name, "' (data bytes ", range(at, e.begin), ")");
    if (e.end > data_size)
      fail("tensor '", e.tensor.name, "' data ", range(e.begin, e.end), " runs past the end of the file, whose data region is ",
           data_size, " bytes; the file is truncated");
    at = e.end;
  }
  if (at != data_size) fail(data_size - at, " bytes follow the last tensor; the file has data that no tensor describes");
  for (Entry& e : entries) {
    e.tensor.bytes = std::string(bytes.substr(base + e.begin, e.end - e.begin));
    file.tensors.push_back(std::move(e.tensor));
  }
  return file;
}

Tensor to_float32(const RawTensor& tensor, const std::string& label) {
  Tensor out{tensor.name, tensor.shape, std::vector<float>(static_cast<size_t>(element_count(tensor.shape)))};
  const char* data = tensor.bytes.data();
  const size_t n = out.values.size();
  if (tensor.dtype == "F32") {
    if (n) std::memcpy(out.values.data(), data, n * 4);  // data() of an empty vector may be null
  } else if (tensor.dtype == "F64") {
    for (size_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      out.values[i] = static_cast<float>(v);
    }
  } else if (tensor.dtype == "F16" || tensor.dtype == "BF16") {
    for (size_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      out.values[i] = tensor.dtype == "F16" ? half_to_float(v) : std::bit_cast<float>(static_cast<uint32_t>(v) << 16);
    }
  } else {
    user_error(label, ": tensor '", tensor.name, "' is ", tensor.dtype,
               ", not a floating-point tensor (F32, F64, F16 or BF16); save it with .float()");
  }
  return out;
}

std::vector<int64_t> to_int64(const RawTensor& tensor, const std::string& label) {
  std::vector<int64_t> out(static_cast<size_t>(element_count(tensor.shape)));
  const char* data = tensor.bytes.data();
  for (size_t i = 0; i < out.size(); ++i) {
    if (tensor.dtype == "I64") {
      std::memcpy(&out[i], data + 8 * i, 8);
    } else if (tensor.dtype == "I32") {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      out[i] = v;
    } else if (tensor.dtype == "U8" || tensor.dtype == "BOOL") {
      out[i] = static_cast<unsigned char>(data[i]);
    } else {
      user_error(label, ": tensor '", tensor.name, "' is ", tensor.dtype, ", not an integer tensor (I64, I32, U8 or BOOL)");
    }
  }
  return out;
}

std::string encode_safetensors(const std::vector<Tensor>& tensors, const std::map<std::string, std::string>& metadata) {
  train::TensorFile file;
  file.metadata = metadata;
  for (const Tensor& t : tensors) {
    if (static_cast<size_t>(element_count(t.shape)) != t.values.size())
      internal_error("tensor '", t.name, "' has ", t.values.size(), " values for the shape ", shape_string(t.shape));
    std::string bytes(t.values.size() * sizeof(float), '\0');
    if (!bytes.empty()) std::memcpy(bytes.data(), t.values.data(), bytes.size());
    file.tensors.push_back({t.name, train::DType::F32, t.shape, std::move(bytes)});
  }
  return train::encode_tensor_file(file);
}

void write_safetensors(const std::string& path, const std::vector<Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  train::write_file_atomically(path, encode_safetensors(tensors, metadata), "safetensors file '" + path + "'");
}

}  // namespace cellforge::interop
