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
#include "codegen/llvm/network_plan.hpp"
#include "support/jit_harness.hpp"
#include "support/random_cell.hpp"

using namespace cellforge;

namespace {

int cells_to_run() {
  const char* n = std::getenv("CELLFORGE_RANDOM_CELLS");
  return n ? std::atoi(n) : 200;
}

void check_random_cell(const ir::Graph& cell, uint64_t seed, const ir::NetworkSizes& sizes, int threads) {
  testing::HarnessOptions options;
  options.seed = seed;
  options.threads = threads;
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
  check_random_cell(cell, seed, sizes, 1 + static_cast<int>(rng() % 2));
}

}  // namespace

// Random cells where steps can be split by features (docs/design.md, "A step split by features"):
// fewer than 8 rows, H = 64 (a multiple of the 32-column panels), 2 or 3 threads. Whether a cell's
// step is split depends on what it reads at which offsets; the count of split scans is checked so
// that the case keeps exercising the split. CELLFORGE_SPLIT_CELLS / CELLFORGE_SPLIT_CELL_FIRST
// choose another range of seeds (40 from 3000 by default) for a longer run.
TEST_CASE("differential: random cells at few rows, steps split by features, vs reference") {
  const char* count = std::getenv("CELLFORGE_SPLIT_CELLS");
  const char* first = std::getenv("CELLFORGE_SPLIT_CELL_FIRST");
  const uint64_t begin = first ? std::strtoull(first, nullptr, 10) : 3000;
  const uint64_t end = begin + (count ? std::strtoull(count, nullptr, 10) : 40);
  int split_scans = 0;
  for (uint64_t seed = begin; seed < end; ++seed) {
    ir::Graph cell = testing::random_cell(seed);
    std::mt19937_64 rng(seed * 7919);
    ir::NetworkSizes sizes;
    sizes.input = 24;
    sizes.hidden = 64;
    sizes.batch = seed % 2 ? 1 : 3;
    sizes.unroll = 2 + static_cast<int64_t>(rng() % 4);
    sizes.layers = 1 + static_cast<int64_t>(rng() % 2);
    try {
      const llvm_backend::NetworkPlan plan = llvm_backend::plan_network(cell, sizes, passes::PassOptions{});
      for (const auto* scans : {&plan.forward, &plan.backward})
        for (const llvm_backend::ScanPlan& scan : *scans) split_scans += scan.feature_split > 0;
    } catch (const std::exception&) {
      // check_random_cell reports it
    }
    check_random_cell(cell, seed, sizes, 2 + static_cast<int>(seed % 2));
  }
  INFO("scans split by features: " << split_scans);
  CHECK(split_scans >= 10);
}

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
