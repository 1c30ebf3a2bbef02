// The JIT against the reference interpreter on random cells over the whole op set (see
// support/random_cell.hpp): forward outputs, final states and every gradient, at random unroll
// lengths, stack depths, batch sizes and odd widths. Each case prints its seed; a failure is
// reproduced with CELLFORGE_RANDOM_CELL_SEED=<seed>, and reduced to a small regression case with
// tests/tools/reduce_random_cell. CELLFORGE_RANDOM_CELLS sets how many cells run (200 by default),
// CELLFORGE_RANDOM_CELL_FIRST the first seed (1000). Tolerance as in test_zoo_cells.cpp.
// The test case is hidden ([.random]): tests/CMakeLists.txt runs it in shards of 250 seeds (1,000
// cells per CI run); run it by name to choose your own range.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include "codegen/ir/text.hpp"
#include "support/jit_harness.hpp"
#include "support/random_cell.hpp"

using namespace cellforge;

namespace {

int cells_to_run() {
  const char* n = std::getenv("CELLFORGE_RANDOM_CELLS");
  return n ? std::atoi(n) : 200;
}

void check_random_cell(uint64_t seed) {
  ir::Graph cell = testing::random_cell(seed);
  std::mt19937_64 rng(seed * 7919);
  ir::NetworkSizes sizes;
  const int64_t Ts[] = {1, 3, 17}, Bs[] = {1, 3, 8}, Hs[] = {7, 13, 9};
  sizes.input = 5;
  sizes.hidden = Hs[rng() % 3];
  sizes.batch = Bs[rng() % 3];
  sizes.unroll = Ts[rng() % 3];
  sizes.layers = 1 + static_cast<int64_t>(rng() % 2);
  testing::HarnessOptions options;
  options.seed = seed;
  options.threads = 1 + static_cast<int>(rng() % 2);
  testing::Comparison c;
  try {
    c = testing::compare_with_reference(cell, sizes, options);
  } catch (const std::exception& e) {
    FAIL_CHECK("random cell seed " << seed << " T=" << sizes.unroll << " L=" << sizes.layers << " B=" << sizes.batch
                                   << " H=" << sizes.hidden << " threads=" << options.threads << " threw: " << e.what()
                                   << "\n" << ir::print(cell));
    return;
  }
  INFO("random cell seed " << seed << " T=" << sizes.unroll << " L=" << sizes.layers << " B=" << sizes.batch
                           << " H=" << sizes.hidden << " threads=" << options.threads << ": worst " << c.worst.relative
                           << " in " << c.worst.where << "\n" << ir::print(cell));
  CHECK_FALSE(c.worst.nonfinite_mismatch);
  CHECK(c.worst.relative < 1e-4);
}

}  // namespace

TEST_CASE("differential: random cells JIT vs reference interpreter", "[.random]") {
  if (const char* one = std::getenv("CELLFORGE_RANDOM_CELL_SEED")) {
    check_random_cell(std::strtoull(one, nullptr, 10));
    return;
  }
  const int n = cells_to_run();
  const char* first = std::getenv("CELLFORGE_RANDOM_CELL_FIRST");
  const uint64_t base = first ? std::strtoull(first, nullptr, 10) : 1000;
  for (int i = 0; i < n; ++i) {
    std::printf("random cell seed %llu\n", static_cast<unsigned long long>(base + i));
    check_random_cell(base + static_cast<uint64_t>(i));
  }
}
