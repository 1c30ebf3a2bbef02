// The JIT (float32) against the reference interpreter (double) for every cell of the zoo, over
// unroll lengths, stack depths, batch sizes and odd widths that leave vector tails (H = 13).
//
// Tolerance: 1e-4 of the largest magnitude of each tensor. The float32 rounding of one step is
// ~1e-7 relative; the activations' approximation error is a few ULP; sums over T*B rows (weight
// gradients) and H-long dot products grow that by at most ~log2(T*B*H) ~ 10-14 and contractive
// cells do not amplify it over time (reliability.md, measured ~2e-7 up to T = 2000).
#include <catch2/catch.hpp>

#include <cstdio>

#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

void check_cell(const std::string& name, const ir::NetworkSizes& sizes, uint64_t seed, int threads = 1) {
  testing::HarnessOptions options;
  options.seed = seed;
  options.threads = threads;
  testing::Comparison c = testing::compare_with_reference(zoo::find(name).build(), sizes, options);
  INFO(name << " T=" << sizes.unroll << " L=" << sizes.layers << " B=" << sizes.batch << " X=" << sizes.input
            << " H=" << sizes.hidden << " seed=" << seed << " threads=" << threads << ": worst " << c.worst.relative
            << " in " << c.worst.where);
  CHECK_FALSE(c.worst.nonfinite_mismatch);
  CHECK(c.worst.relative < 1e-4);
}

ir::NetworkSizes sizes_of(int64_t input, int64_t hidden, int64_t batch, int64_t unroll, int64_t layers) {
  ir::NetworkSizes sizes;
  sizes.input = input;
  sizes.hidden = hidden;
  sizes.batch = batch;
  sizes.unroll = unroll;
  sizes.layers = layers;
  return sizes;
}

}  // namespace

TEST_CASE("differential: zoo cells JIT vs reference interpreter") {
  uint64_t seed = 100;
  for (const char* name : {"rnn", "rnn_relu", "lstm", "gru", "gru_classic"})
    for (int64_t T : {1, 3, 17})
      for (int64_t L : {1, 2})
        for (int64_t B : {1, 3, 8}) check_cell(name, sizes_of(5, 13, B, T, L), ++seed);
}

TEST_CASE("differential: zoo cells on two threads") {
  for (const char* name : {"lstm", "gru"}) check_cell(name, sizes_of(19, 37, 5, 6, 2), 7, 2);
}

// Widths that are multiples of 256 floats: the workspace rows of such values are padded by a cache
// line (padded_row_stride), so every value, slice and product of the step reads and writes rows
// 272 or 1040 floats apart while the caller's buffers stay dense; 11 rows leave edge rows that the
// GEMM packs while the full tiles read A in place.
TEST_CASE("differential: rows of 256 and 1024 floats (padded in the workspace) vs reference") {
  for (const char* name : {"lstm", "gru", "layernorm_lstm"})
    for (int threads : {1, 2}) check_cell(name, sizes_of(256, 256, 11, 4, 2), 300, threads);
}

// Time loops without barriers: weights that fit in half of L2 and at least a tile of rows per
// thread, so the loop's products split the batch rows and each thread runs the whole loop on its
// own rows (tests/golden/time_loop_without_barriers.test shows the code). 21 and 50 rows leave a
// ragged last share (2 threads: 8 + 13 and 24 + 26 rows; 3 threads: 8 + 8 + 5 and 16 + 16 + 18),
// two layers read the layer below after the loop, and the layer-norm LSTM and the peephole LSTM
// add row reductions and per-row state reads to the step.
TEST_CASE("differential: time loops without barriers (products split by rows) vs reference") {
  uint64_t seed = 400;
  for (const char* name : {"lstm", "gru", "rnn", "layernorm_lstm", "peephole_lstm"})
    for (int threads : {2, 3}) {
      check_cell(name, sizes_of(40, 64, 21, 5, 2), ++seed, threads);
      check_cell(name, sizes_of(64, 128, 50, 3, 1), ++seed, threads);
    }
}

// Steps split by features: fewer than 8 rows and hidden sizes that are multiples of 32, so each
// thread computes the gates of its features (docs/design.md, "A step split by features"); H = 96
// gives shares of 64 and 32 features (and none on a third thread), two layers and 1 or 2 rows;
// the peephole LSTM adds per-feature weight gradients summed in the loop, the GRU a concatenation
// copied in the loop, the minimal RNN one product of H columns.
TEST_CASE("differential: steps split by features (few rows) vs reference") {
  uint64_t seed = 600;
  for (const char* name : {"lstm", "gru", "rnn", "peephole_lstm"})
    for (int threads : {2, 3}) {
      check_cell(name, sizes_of(48, 96, 2, 5, 2), ++seed, threads);
      check_cell(name, sizes_of(64, 128, 1, 4, 1), ++seed, threads);
    }
}

// Batch 1 to 3 with weights over half of L2 on one thread: the steps' matrix-vector products walk
// the packed weights in chunks, in alternating order (emit_product.cpp).
TEST_CASE("differential: matrix-vector steps walking their weights both ways vs reference") {
  uint64_t seed = 500;
  for (const char* name : {"lstm", "gru"})
    for (int64_t B : {1, 3}) check_cell(name, sizes_of(256, 256, B, 5, 1), ++seed);
}

