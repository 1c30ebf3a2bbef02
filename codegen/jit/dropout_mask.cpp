// Dropout masks on the thread pool; see dropout_mask.hpp.
#include "codegen/jit/dropout_mask.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "codegen/jit/thread_pool.hpp"

namespace cellforge::jit {

namespace {

// splitmix64's output function: a bijective 64-bit hash (runtime/train/rng.hpp's hash64).
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment

uint64_t stream_key(uint64_t seed, uint64_t stream) { return splitmix64(splitmix64(seed) ^ splitmix64(stream << 40)); }

// u < ceil(p * 2^32) for a 32-bit u is u / 2^32 < p (p * 2^32 is exact in double).
uint64_t drop_threshold(double p) { return static_cast<uint64_t>(std::ceil(p * 0x1.0p32)); }

// The runtime is compiled for any x86-64, where g++ cannot vectorize SplitMix64's 64-bit
// multiplies; a second copy for AVX-512 (x86-64-v4: vpmullq), chosen when the process starts,
// draws 1.28 M elements in ~167 us instead of ~866 us on one thread of this machine (the same
// values: the arithmetic is integer).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CELLFORGE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define CELLFORGE_VECTOR_CLONES
#endif

// Elements 2j and 2j + 1 for j in [begin, end): the high and the low half of one hash; `below`
// where u < threshold, `above` elsewhere. Without branches: a branch on a random bit is
// mispredicted half the time, ~4x the cost of the hash.
CELLFORGE_VECTOR_CLONES void draw_pairs(float* out, uint64_t begin, uint64_t end, uint64_t key, uint64_t threshold, float below, float above) {
  const uint32_t below_bits = std::bit_cast<uint32_t>(below), above_bits = std::bit_cast<uint32_t>(above);
  const auto value = [&](uint64_t u) {
    const uint32_t is_below = 0u - static_cast<uint32_t>(u < threshold);
    return std::bit_cast<float>((below_bits & is_below) | (above_bits & ~is_below));
  };
  for (uint64_t j = begin; j < end; ++j) {
    const uint64_t r = splitmix64(key + j * kGamma);
    out[2 * j] = value(r >> 32);
    out[2 * j + 1] = value(r & 0xFFFFFFFFull);
  }
}

void draw_mask(std::span<float> mask, uint64_t seed, uint64_t stream, double p, float below, float above, ThreadPool& pool) {
  const uint64_t key = stream_key(seed, stream), threshold = drop_threshold(p);
  const uint64_t n = mask.size(), pairs = n / 2;
  float* out = mask.data();
  pool.run([=](int thread, int threads) {
    // Each thread a contiguous run of pairs, in blocks of 8 pairs = 16 floats (whole cache lines
    // when the mask is 64-byte aligned, as the workspace is); the last thread also draws the odd
    // element at the end.
    const uint64_t lines = (pairs + 7) / 8, per_thread = (lines + threads - 1) / threads;
    const uint64_t begin = std::min(pairs, per_thread * thread * 8), end = std::min(pairs, per_thread * (thread + 1) * 8);
    draw_pairs(out, begin, end, key, threshold, below, above);
    if (thread == threads - 1 && n % 2 == 1) out[n - 1] = (splitmix64(key + pairs * kGamma) >> 32) < threshold ? below : above;
  });
}

}  // namespace

bool dropout_drops(uint64_t seed, uint64_t stream, uint64_t index, double p) {
  const uint64_t r = splitmix64(stream_key(seed, stream) + (index / 2) * kGamma);
  const uint64_t u = index % 2 == 0 ? r >> 32 : r & 0xFFFFFFFFull;
  return u < drop_threshold(p);
}

void draw_dropout_mask(std::span<float> mask, uint64_t seed, uint64_t stream, double p, ThreadPool& pool) {
  draw_mask(mask, seed, stream, p, 0.0f, static_cast<float>(1.0 / (1.0 - p)), pool);
}

void draw_sequence_dropout_mask(std::span<float> mask, int64_t steps, uint64_t seed, uint64_t stream, double p,
                                ThreadPool& pool) {
  const size_t per_step = steps > 0 ? mask.size() / static_cast<size_t>(steps) : 0;
  draw_dropout_mask(mask.first(per_step), seed, stream, p, pool);
  for (int64_t t = 1; t < steps; ++t)
    std::copy(mask.begin(), mask.begin() + static_cast<std::ptrdiff_t>(per_step),
              mask.begin() + static_cast<std::ptrdiff_t>(per_step * static_cast<size_t>(t)));
}

void draw_zoneout_mask(std::span<float> mask, uint64_t seed, uint64_t stream, double z, ThreadPool& pool) {
  draw_mask(mask, seed, stream, z, 1.0f, 0.0f, pool);
}

}  // namespace cellforge::jit
