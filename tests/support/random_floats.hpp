// Reproducible random buffers for the tests that compare two compiled networks bit for bit.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace cellforge::testing {

/// n floats uniform in [-scale, scale), the same for the same seed.
inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

/// Whether two buffers hold the same floats bit for bit.
inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace cellforge::testing
