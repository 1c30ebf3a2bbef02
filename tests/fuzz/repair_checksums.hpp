// Makes the CRC-32C checksums of a mutated cellforge tensor file right again, so that a fuzzer gets
// past them to the JSON header, the metadata, the cell text and the tensors.
//
// A checkpoint carries a CRC-32C per tensor and one of its header (runtime/train/safetensors.hpp).
// A random mutation almost never keeps them right, so the loader would refuse nearly every input at
// the checksum and the fuzzer would never reach the code behind it. The targets therefore decode
// every input twice: as given (which tests the checksum checks themselves) and after this repair.
// It rewrites only the hex digits of checksums that are already there and changes nothing else,
// so the repaired file has the same length and layout; what it cannot make sense of it leaves alone.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/train/crc32c.hpp"
#include "runtime/train/json.hpp"

namespace cellforge::fuzz {

// What cellforge's encoder writes first: then 8 hex digits and a quote.
inline constexpr std::string_view kHeaderStart = "{\"__metadata__\":{\"checksum.crc32c.__header__\":\"0x";

inline void write_hex32(char* at, uint32_t v) {
  char digits[9];
  std::snprintf(digits, sizeof digits, "%08x", v);
  std::memcpy(at, digits, 8);
}

/// Repairs the checksums of `file` in place; false when it does not start like a cellforge file.
inline bool repair_checksums(std::string& file) {
  if (file.size() < 8) return false;
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  if (n > file.size() - 8 || n < kHeaderStart.size() + 9) return false;
  if (std::string_view(file).substr(8, kHeaderStart.size()) != kHeaderStart) return false;
  const uint64_t base = 8 + n;
  // Tensor checksums first: the header checksum covers their digits.
  try {
    const train::json::Value root = train::json::parse(std::string_view(file).substr(8, n));
    for (const auto& [name, value] : root.members) {
      const train::json::Value* offsets = value.find("data_offsets");
      int64_t begin, end;
      if (name == "__metadata__" || !offsets || offsets->items.size() != 2 || !offsets->items[0].as_count(&begin) ||
          !offsets->items[1].as_count(&end) || begin > end || static_cast<uint64_t>(end) > file.size() - base)
        continue;
      const std::string key = train::json::quote("checksum.crc32c." + name) + ":\"0x";
      const size_t at = std::string_view(file).substr(8, n).find(key);
      if (at == std::string::npos || at + key.size() + 8 > n) continue;
      write_hex32(file.data() + 8 + at + key.size(),
                  train::crc32c(std::string_view(file).substr(base + static_cast<uint64_t>(begin), static_cast<uint64_t>(end - begin))));
    }
  } catch (const train::json::ParseError&) {
    // Not JSON: only the header checksum is repaired, and the loader's JSON errors are tested.
  }
  std::string header = file.substr(8, n);
  header.replace(kHeaderStart.size(), 8, "00000000");
  write_hex32(file.data() + 8 + kHeaderStart.size(), train::crc32c(header));
  return true;
}

}  // namespace cellforge::fuzz
