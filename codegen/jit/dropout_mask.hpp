// Inverted-dropout masks and zoneout masks, drawn on the thread pool. Each value is a counter-based random number:
// element i of stream s (a layer's input; the language model's head is stream L) depends only on
// (seed, s, i), so any split of the work among threads draws the same mask bit for bit, and the
// masks of two streams or two seeds never repeat each other.
//
// The draw, for element i: key = splitmix64(splitmix64(seed) ^ splitmix64(s << 40)); r =
// splitmix64(key + (i / 2) * 0x9E3779B97F4A7C15), i.e. the i/2-th output of the SplitMix64 sequence
// seeded with key; u = the high 32 bits of r for even i, the low 32 bits for odd i. The element is
// dropped (0) when u < ceil(p * 2^32), i.e. when u / 2^32 < p, and kept otherwise (1 / (1 - p)).
// One 64-bit hash serves two elements: the masks were 2 hashes and a double conversion per element,
// drawn on one thread, ~30% of a char-rnn training step with dropout (docs/design.md, "Dropout
// masks, the loss and the optimizer on the pool").
#pragma once

#include <cstdint>
#include <span>

namespace cellforge::jit {

class ThreadPool;

/// Whether element `index` of mask `stream` is dropped for `seed` at drop probability `p` (the
/// formula above, one element at a time; draw_dropout_mask() draws whole masks).
bool dropout_drops(uint64_t seed, uint64_t stream, uint64_t index, double p);

/// Fills `mask` with 0 (dropped, probability p) or 1 / (1 - p), element i as dropout_drops(seed,
/// stream, i, p) says, on every thread of `pool`. p must be in [0, 1).
void draw_dropout_mask(std::span<float> mask, uint64_t seed, uint64_t stream, double p, ThreadPool& pool);

/// Variational ("locked") dropout: `mask` is `steps` equal parts, [T][B][width]; the first is
/// drawn as draw_dropout_mask() draws a mask of that size, and every step repeats it, so each
/// sequence keeps one mask for all its steps (Gal & Ghahramani 2016; AWD-LSTM's LockedDropout).
void draw_sequence_dropout_mask(std::span<float> mask, int64_t steps, uint64_t seed, uint64_t stream, double p,
                                ThreadPool& pool);

/// Fills `mask` with 1 (probability z: the state keeps its previous value) or 0, element i being 1
/// exactly when dropout_drops(seed, stream, i, z). z must be in [0, 1).
void draw_zoneout_mask(std::span<float> mask, uint64_t seed, uint64_t stream, double z, ThreadPool& pool);

}  // namespace cellforge::jit
