// CRC-32C (Castagnoli), the checksum TensorFlow's checkpoint bundles store per tensor: it detects
// every single-bit error and every burst of up to 32 bits, which is what a checkpoint loader must
// catch before it hands corrupted weights to training.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cellforge::train {

/// The CRC-32C of `size` bytes at `data`, continuing from `crc` (0 to start).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
inline uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

}  // namespace cellforge::train
