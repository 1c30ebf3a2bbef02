// Encoding and strict decoding of safetensors files with checksums, and the atomic write; see
// safetensors.hpp.
#include "runtime/train/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "runtime/train/crc32c.hpp"
#include "runtime/train/json.hpp"

namespace cellforge::train {

static_assert(std::endian::native == std::endian::little, "the checkpoint format stores little-endian data");

namespace {

constexpr std::string_view kChecksumPrefix = "checksum.crc32c.";
constexpr std::string_view kHeaderKey = "checksum.crc32c.__header__";
// The header starts with exactly this, then 8 hex digits and a quote.
constexpr std::string_view kHeaderStart = "{\"__metadata__\":{\"checksum.crc32c.__header__\":\"0x";

std::string hex32(uint32_t v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", v);
  return buffer;
}

// Parses "0x" + 8 lowercase hex digits.
bool parse_hex32(std::string_view text, uint32_t* out) {
  if (text.size() != 10 || text.substr(0, 2) != "0x") return false;
  uint32_t v = 0;
  for (char c : text.substr(2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
    else return false;
  }
  *out = v;
  return true;
}

bool dtype_from_name(std::string_view name, DType* out) {
  for (DType d : {DType::F32, DType::F64, DType::I32, DType::I64, DType::U8, DType::U64})
    if (name == dtype_name(d)) return *out = d, true;
  return false;
}

std::string range(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Bytes of a tensor of this dtype and shape, or false on overflow past 2^62.
bool byte_size(DType dtype, const std::vector<int64_t>& shape, uint64_t* out) {
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    const auto dim = static_cast<uint64_t>(d);
    if (dim != 0 && n > kLimit / dim) return false;
    n *= dim;
  }
  *out = n;
  return true;
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::U64: return "U64";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::I32: return 4;
    case DType::F64: case DType::I64: case DType::U64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

const StoredTensor* TensorFile::find(std::string_view name) const {
  for (const StoredTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string encode_tensor_file(const TensorFile& file) {
  std::map<std::string, std::string> metadata = file.metadata;
  for (const auto& [key, value] : file.metadata)
    if (std::string_view(key).substr(0, kChecksumPrefix.size()) == kChecksumPrefix)
      internal_error("tensor file metadata key '", key, "' uses the reserved checksum prefix");
  std::string tensors;
  uint64_t offset = 0;
  for (const StoredTensor& t : file.tensors) {
    uint64_t expected = 0;
    if (t.name.empty() || t.name == "__metadata__" || !json::is_valid_utf8(t.name) || !byte_size(t.dtype, t.shape, &expected) ||
        expected != t.bytes.size() || metadata.count(std::string(kChecksumPrefix) + t.name))
      internal_error("tensor '", t.name, "' cannot be written: bad or duplicate name, or ", t.bytes.size(),
                     " bytes for ", dtype_name(t.dtype), shape_text(t.shape));
    metadata[std::string(kChecksumPrefix) + t.name] = hex32(crc32c(t.bytes));
    tensors += "," + json::quote(t.name) + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) tensors += (i ? "," : "") + std::to_string(t.shape[i]);
    tensors += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes.size()) + "]}";
    offset += t.bytes.size();
  }
  std::string header = std::string(kHeaderStart) + "00000000\"";
  for (const auto& [key, value] : metadata) header += "," + json::quote(key) + ":" + json::quote(value);
  header += "}" + tensors + "}";
  header.resize((header.size() + 7) / 8 * 8, ' ');  // tensors start 8-byte aligned
  const std::string crc = hex32(crc32c(header)).substr(2);
  header.replace(kHeaderStart.size(), 8, crc);
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out += header;
  for (const StoredTensor& t : file.tensors) out += t.bytes;
  return out;
}

TensorFile decode_tensor_file(std::string_view bytes, const std::string& label) {
  auto fail = [&](const auto&... parts) { user_error(label, ": ", parts...); };
  const uint64_t size = bytes.size();
  if (size < 8)
    fail("the file is ", size, " bytes, shorter than the 8-byte header length; it is truncated or not a checkpoint");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes)
    fail("the header declares ", n, " bytes, more than the ", kMaxHeaderBytes / 1000000,
         " MB limit; the file is corrupt or not a checkpoint");
  if (n > size - 8)
    fail("the header declares ", n, " bytes but only ", size - 8, " follow the length field; the file is truncated");
  std::string header(bytes.substr(8, n));
  uint32_t stored_header = 0;
  if (n < kHeaderStart.size() + 9 || std::string_view(header).substr(0, kHeaderStart.size()) != kHeaderStart ||
      header[kHeaderStart.size() + 8] != '"' ||
      !parse_hex32("0x" + header.substr(kHeaderStart.size(), 8), &stored_header))
    fail("the header (file bytes ", range(8, 8 + n), ") does not start with cellforge's header checksum; "
         "the file is corrupt, or not a checkpoint written by cellforge");
  header.replace(kHeaderStart.size(), 8, "00000000");
  const uint32_t computed_header = crc32c(header);
  if (computed_header != stored_header)
    fail("header checksum mismatch: stored ", hex32(stored_header), ", computed ", hex32(computed_header),
         " over file bytes ", range(8, 8 + n), "; the header is corrupt");
  header.replace(kHeaderStart.size(), 8, hex32(stored_header).substr(2));

  json::Value root;
  try {
    root = json::parse(header);
  } catch (const json::ParseError& e) {
    fail("the header is not valid JSON (", e.what(), " of the header)");
  }
  if (root.kind != json::Value::Kind::object) fail("the header is not a JSON object");
  TensorFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : root.members) {
    if (name == "__metadata__") {
      if (value.kind != json::Value::Kind::object) fail("__metadata__ is not an object of strings");
      for (const auto& [key, text] : value.members) {
        if (text.kind != json::Value::Kind::string) fail("metadata '", key, "' is not a string");
        file.metadata[key] = text.text;
      }
      continue;
    }
    if (value.kind != json::Value::Kind::object) fail("tensor '", name, "' is not described by an object");
    for (const auto& [field, v] : value.members)
      if (field != "dtype" && field != "shape" && field != "data_offsets")
        fail("tensor '", name, "' has the unknown field '", field, "'; a tensor has dtype, shape and data_offsets");
    const json::Value* dtype = value.find("dtype");
    const json::Value* shape = value.find("shape");
    const json::Value* offsets = value.find("data_offsets");
    if (!dtype || !shape || !offsets) fail("tensor '", name, "' lacks ", !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    Entry e{name, DType::F32, {}, 0, 0};
    if (dtype->kind != json::Value::Kind::string || !dtype_from_name(dtype->text, &e.dtype))
      fail("tensor '", name, "' has the unknown dtype '", dtype->text, "'; known: F32, F64, I32, I64, U8, U64");
    if (shape->kind != json::Value::Kind::array || shape->items.size() > 8)
      fail("tensor '", name, "' has a shape that is not a list of at most 8 sizes");
    for (const json::Value& d : shape->items) {
      int64_t v;
      if (!d.as_count(&v)) fail("tensor '", name, "' has the shape entry '", d.text, "', not a size");
      e.shape.push_back(v);
    }
    int64_t begin, end;
    if (offsets->kind != json::Value::Kind::array || offsets->items.size() != 2 || !offsets->items[0].as_count(&begin) ||
        !offsets->items[1].as_count(&end) || end < begin)
      fail("tensor '", name, "' has data_offsets that are not [begin, end) with 0 <= begin <= end");
    e.begin = static_cast<uint64_t>(begin), e.end = static_cast<uint64_t>(end);
    uint64_t expected;
    if (!byte_size(e.dtype, e.shape, &expected))
      fail("tensor '", name, "' declares ", shape_text(e.shape), " ", dtype_name(e.dtype), ", whose byte size overflows");
    if (expected != e.end - e.begin)
      fail("tensor '", name, "' declares ", shape_text(e.shape), " ", dtype_name(e.dtype), " (", expected,
           " bytes) but its data range ", range(e.begin, e.end), " is ", e.end - e.begin, " bytes");
    entries.push_back(std::move(e));
  }
  // The data region must be tiled exactly, in offset order.
  const uint64_t data_size = size - 8 - n, base = 8 + n;
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < at)
      fail("tensors '", previous->name, "' ", range(previous->begin, previous->end), " and '", e->name, "' ",
           range(e->begin, e->end), " overlap");
    if (e->begin > at)
      fail("a hole of ", e->begin - at, " bytes before tensor '", e->name, "' (data bytes ", range(at, e->begin),
           "); tensors must tile the data region");
    if (e->end > data_size)
      fail("tensor '", e->name, "' data ", range(e->begin, e->end), " (file bytes ", range(base + e->begin, base + e->end),
           ") runs past the end of the file, whose data region is ", data_size, " bytes; the file is truncated");
    at = e->end;
    previous = e;
  }
  if (at != data_size)
    fail(data_size - at, " bytes follow the last tensor (file bytes ", range(base + at, size),
         "); the file has trailing data that no tensor describes");
  // Checksums, in file order.
  for (const Entry* e : by_offset) {
    const std::string key = std::string(kChecksumPrefix) + e->name;
    auto it = file.metadata.find(key);
    uint32_t stored;
    if (it == file.metadata.end()) fail("tensor '", e->name, "' has no checksum (metadata '", key, "')");
    if (!parse_hex32(it->second, &stored))
      fail("tensor '", e->name, "' has the checksum '", it->second, "', not 0x and 8 hex digits");
    const std::string_view data = bytes.substr(base + e->begin, e->end - e->begin);
    const uint32_t computed = crc32c(data);
    if (computed != stored)
      fail("tensor '", e->name, "' checksum mismatch: stored ", hex32(stored), ", computed ", hex32(computed),
           " over file bytes ", range(base + e->begin, base + e->end));
    file.metadata.erase(it);
    file.tensors.push_back({e->name, e->dtype, e->shape, std::string(data)});
  }
  file.metadata.erase(std::string(kHeaderKey));
  for (const auto& [key, value] : file.metadata)
    if (std::string_view(key).substr(0, kChecksumPrefix.size()) == kChecksumPrefix)
      fail("the metadata has a checksum for tensor '", key.substr(kChecksumPrefix.size()), "', which the file does not contain");
  return file;
}

std::string read_file_bytes(const std::string& path, const std::string& label) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) user_error(label, ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error(label, ": cannot open it for reading (", std::strerror(errno), ")");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) user_error(label, ": reading failed (", std::strerror(errno), ")");
  return bytes.str();
}

void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& label,
                           const WriteFaults* faults) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) user_error(label, ": cannot create a temporary file in '", dir.string(), "' (", std::strerror(errno), ")");
  auto fail = [&](const char* step, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    user_error(label, ": ", step, " failed (", std::strerror(error), "); '", path, "' was left as it was");
  };
  ::fchmod(fd, 0644);
  size_t written = 0;
  while (written < bytes.size()) {
    size_t chunk = bytes.size() - written;
    if (faults && faults->fail_after_bytes >= 0) {
      const size_t allowed = static_cast<size_t>(faults->fail_after_bytes);
      if (written >= allowed) fail("writing the temporary file", EIO);
      chunk = std::min(chunk, allowed - written);
    }
    const ssize_t w = ::write(fd, bytes.data() + written, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("writing the temporary file", w < 0 ? errno : EIO);
    written += static_cast<size_t>(w);
  }
  if ((faults && faults->fail_fsync) || ::fsync(fd) != 0) fail("fsync of the temporary file", faults && faults->fail_fsync ? EIO : errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    user_error(label, ": closing the temporary file failed (", std::strerror(error), "); '", path, "' was left as it was");
  }
  if ((faults && faults->fail_rename) || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = faults && faults->fail_rename ? EIO : errno;
    ::unlink(temp.c_str());
    user_error(label, ": renaming the temporary file over it failed (", std::strerror(error), "); '", path,
               "' was left as it was");
  }
  // The rename is durable only once the directory is on disk too.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace cellforge::train
