// Plain safetensors files, as any writer makes them: Python's `safetensors` package, the tiny
// stdlib writer in scripts/torch_safetensors.py, or cellforge itself.
//
// Layout: [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw tensors]
//   header = {"__metadata__": {string: string, ...},                 (optional)
//             "<tensor>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// Offsets count from the first byte after the header; the tensors tile that region exactly.
//
// cellforge's own checkpoints (runtime/train/safetensors.hpp) are the same layout with CRC-32C
// checksums in __metadata__, and their reader refuses a file without them. A file from PyTorch has
// none, so this reader takes both: a file whose header starts with cellforge's header checksum is
// verified in full by train::decode_tensor_file (checksums included); any other file is checked for
// everything the format itself promises (header length, strict JSON, known dtypes, shapes that
// match the byte ranges, ranges that tile the data). Files are written through
// train::encode_tensor_file, so PyTorch reads them (it ignores the checksum metadata) and cellforge
// reads them back verified.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cellforge::interop {

/// A float32 tensor with a name, row-major.
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// A tensor as stored: its dtype as safetensors spells it ("F32", "BF16", "I64", ...).
struct RawTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string bytes;  // little-endian, row-major
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;  // __metadata__ (cellforge's checksum entries removed)
  std::vector<RawTensor> tensors;               // in the order of their data
  const RawTensor* find(std::string_view name) const;
};

/// Reads and checks a safetensors file; every error is a UserError that starts with
/// "safetensors file '<path>': " and names the tensor and what is wrong.
SafetensorsFile read_safetensors(const std::string& path);
/// The same from bytes already read; `label` starts every message.
SafetensorsFile decode_safetensors(std::string_view bytes, const std::string& label);

/// The tensor as float32: F32 as stored, F16 and BF16 exactly, F64 rounded to nearest. Any other
/// dtype is a UserError naming the tensor (weights must be floating point).
Tensor to_float32(const RawTensor& tensor, const std::string& label);
/// The tensor as int64 (I64, I32, U8 or BOOL); a UserError for any other dtype.
std::vector<int64_t> to_int64(const RawTensor& tensor, const std::string& label);

/// Writes float32 tensors (in the order given) and `metadata` atomically (a temporary file renamed
/// over `path`); cellforge's checksums are added to the metadata. Throws UserError on I/O failure.
void write_safetensors(const std::string& path, const std::vector<Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
/// The bytes write_safetensors() writes.
std::string encode_safetensors(const std::vector<Tensor>& tensors, const std::map<std::string, std::string>& metadata = {});

/// "[4, 3]".
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace cellforge::interop
