// The trainer's random numbers: xoshiro256** seeded through splitmix64. Written out rather than
// taken from <random> because a checkpoint must hold the generator's state as plain numbers and a
// resumed run must draw the same values on any standard library (std::uniform_real_distribution's
// algorithm is not specified, so the same engine gives different floats under libstdc++ and libc++).
#pragma once

#include <array>
#include <cstdint>

namespace cellforge::train {

/// splitmix64's output for the counter x: a bijective 64-bit hash. It makes counter-based random
/// numbers (a value that depends only on its inputs, not on a stream's position): the per-iteration
/// dropout seed. codegen/jit/dropout_mask.cpp draws the dropout masks with the same function.
inline uint64_t hash64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  /// Restarts the sequence of `seed` (every seed, 0 included, gives a valid non-zero state).
  void reseed(uint64_t seed) {
    uint64_t z = seed;
    for (uint64_t& word : state_) word = splitmix64(z);
  }

  /// The next 64 random bits.
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& z) {
    const uint64_t r = hash64(z);
    z += 0x9E3779B97F4A7C15ull;
    return r;
  }

  State state_{};
};

}  // namespace cellforge::train
