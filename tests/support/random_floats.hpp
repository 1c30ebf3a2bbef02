// Reproducible random buffers for the tests that compare two compiled networks bit for bit.
#pragma once

#include <cstdint>
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

}  // namespace cellforge::testing
