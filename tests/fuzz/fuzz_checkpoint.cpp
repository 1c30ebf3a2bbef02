// libFuzzer target: the checkpoint loader on arbitrary bytes (reliability plan S5, issue 8).
//
// decode_checkpoint() must refuse any file it cannot use with a UserError. Anything else is a
// finding: a crash, an ASan or UBSan report, another exception (an InternalError, std::bad_alloc,
// std::length_error, ...), a leak, an allocation above -malloc_limit_mb, a run above -timeout.
// Each input is decoded as given and again with its checksums repaired (repair_checksums.hpp), so
// the fuzzer reaches the header, the metadata, the cell's IR text and the tensors. A checkpoint that
// loads must also survive a round trip: encoding it and decoding that gives the same bytes again.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "codegen/ir/error.hpp"
#include "repair_checksums.hpp"
#include "runtime/train/checkpoint.hpp"

namespace {

void decode(const std::string& bytes) {
  cellforge::train::Checkpoint checkpoint;
  try {
    checkpoint = cellforge::train::decode_checkpoint(bytes, "fuzz.ckpt");
  } catch (const cellforge::UserError&) {
    return;  // the expected outcome for nearly every input
  }
  const std::string encoded = cellforge::train::encode_checkpoint(checkpoint);
  if (cellforge::train::encode_checkpoint(cellforge::train::decode_checkpoint(encoded, "fuzz.ckpt (re-encoded)")) != encoded)
    std::abort();  // the round trip changed what was loaded
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  decode(bytes);
  if (cellforge::fuzz::repair_checksums(bytes)) decode(bytes);
  return 0;
}
