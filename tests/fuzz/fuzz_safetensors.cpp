// libFuzzer target: the PyTorch weights reader (runtime/interop/safetensors_file.hpp) on arbitrary
// bytes. decode_safetensors() and the conversions to_float32() / to_int64() of every tensor it
// returns must refuse what they cannot use with a UserError; anything else is a finding (see
// fuzz_checkpoint.cpp). A file that starts like a cellforge checkpoint is also tried with its
// checksums repaired, so the verified path is reached too.
#include <cstdint>
#include <string>

#include "codegen/ir/error.hpp"
#include "repair_checksums.hpp"
#include "runtime/interop/safetensors_file.hpp"

namespace {

void decode(const std::string& bytes) {
  using namespace cellforge::interop;
  SafetensorsFile file;
  try {
    file = decode_safetensors(bytes, "fuzz.safetensors");
  } catch (const cellforge::UserError&) {
    return;
  }
  for (const RawTensor& t : file.tensors) {
    try {
      to_float32(t, "fuzz.safetensors");
    } catch (const cellforge::UserError&) {
    }
    try {
      to_int64(t, "fuzz.safetensors");
    } catch (const cellforge::UserError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  decode(bytes);
  if (cellforge::fuzz::repair_checksums(bytes)) decode(bytes);
  return 0;
}
