// Tensor files in the safetensors layout, with checksums, and the atomic file write that every
// checkpoint goes through.
//
// Layout (what Python's safetensors and PyTorch read):
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw little-endian tensors]
//   header = {"__metadata__": {string: string, ...},
//             "<tensor>": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end)}, ...}
// cellforge adds, inside __metadata__, a CRC-32C per tensor ("checksum.crc32c.<tensor>") and one of
// the header itself ("checksum.crc32c.__header__", computed with its own 8 hex digits written as
// zeros). The header checksum is the first member of the first key, so a reader finds it at a
// fixed place before it trusts anything the header says.
//
// decode() verifies everything before returning a single value: the header length (at most
// 100 MB, within the file), the header checksum, strict JSON, the fields of every tensor (known
// dtype, shape, offsets; nothing else), dtype x shape = byte size without overflow, offsets that
// tile the data region exactly (no overlap, no hole, nothing after), and every tensor's checksum.
// Each failure is a UserError that starts with the file's label ("checkpoint 'run.ckpt'") and
// names the tensor, the byte range and what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cellforge::train {

enum class DType { F32, F64, I32, I64, U8, U64 };
const char* dtype_name(DType dtype);  // "F32"
size_t dtype_size(DType dtype);

struct StoredTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string bytes;  // little-endian, row-major
};

struct TensorFile {
  std::map<std::string, std::string> metadata;  // without the checksum entries
  std::vector<StoredTensor> tensors;            // in file order
  const StoredTensor* find(std::string_view name) const;
};

/// Header limit, as safetensors'.
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

/// The file's bytes, with checksums added.
std::string encode_tensor_file(const TensorFile& file);

/// Verifies and decodes `bytes`; `label` starts every error message ("checkpoint 'run.ckpt'").
TensorFile decode_tensor_file(std::string_view bytes, const std::string& label);

/// Reads a whole file; throws UserError naming `label` when it cannot.
std::string read_file_bytes(const std::string& path, const std::string& label);

/// Failure injection for tests of the atomic write: fail (as an I/O error would) after writing
/// this many bytes, or at the fsync or the rename.
struct WriteFaults {
  int64_t fail_after_bytes = -1;
  bool fail_fsync = false;
  bool fail_rename = false;
};

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory, written in
/// full, fsync'ed, renamed over `path`, and the directory fsync'ed. On any failure the temporary
/// file is removed, `path` is left as it was, and a UserError names `label` and the failed step.
void write_file_atomically(const std::string& path, std::string_view bytes, const std::string& label,
                           const WriteFaults* faults = nullptr);

}  // namespace cellforge::train
