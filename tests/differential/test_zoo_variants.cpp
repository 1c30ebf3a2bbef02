// The JIT (float32) against the reference interpreter (double) for the zoo's variant cells
// (runtime/zoo/variants.cpp), over unroll lengths T in {1, 3, 17}, stack depths L in
// {1, 2} and batch sizes B in {1, 3}, at odd widths that leave vector tails: X = 5, H = 13 and,
// for LSTMP, P = 7 (so the layers above the first read 7 features, and W_hh is [52, 7]).
//
// Tolerance: 1e-4 of the largest magnitude of each tensor, as for the basic cells
// (test_zoo_cells.cpp gives the error budget). A cell that fails here while its gradient check
// (tests/gradcheck/test_zoo_variants.cpp) passes has found a compiler bug: reduce it with
// the build's tests/reduce_random_cell on the output of `cellforge inspect --cell NAME --emit graph`.
#include <catch2/catch.hpp>

#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

void check_cell(const std::string& name, uint64_t first_seed) {
  const ir::Graph cell = zoo::find(name).build();
  uint64_t seed = first_seed;
  for (int64_t T : {1, 3, 17})
    for (int64_t L : {1, 2})
      for (int64_t B : {1, 3}) {
        ir::NetworkSizes sizes;
        sizes.input = 5;
        sizes.hidden = 13;
        sizes.batch = B;
        sizes.unroll = T;
        sizes.layers = L;
        if (name == "lstmp") sizes.extra = {{"P", 7}};
        testing::HarnessOptions options;
        options.seed = ++seed;
        const testing::Comparison c = testing::compare_with_reference(cell, sizes, options);
        INFO(name << " T=" << T << " L=" << L << " B=" << B << " X=" << sizes.input << " H=" << sizes.hidden
                  << (name == "lstmp" ? " P=7" : "") << " seed=" << options.seed << ": worst " << c.worst.relative
                  << " in " << c.worst.where);
        CHECK_FALSE(c.worst.nonfinite_mismatch);
        CHECK(c.worst.relative < 1e-4);
      }
}

}  // namespace

TEST_CASE("differential: zoo cell peephole_lstm JIT vs reference interpreter", "[zoo]") {
  check_cell("peephole_lstm", 2000);
}
TEST_CASE("differential: zoo cell cifg_lstm JIT vs reference interpreter", "[zoo]") {
  check_cell("cifg_lstm", 2100);
}
TEST_CASE("differential: zoo cell lstmp JIT vs reference interpreter", "[zoo]") {
  check_cell("lstmp", 2200);
}
TEST_CASE("differential: zoo cell layernorm_lstm JIT vs reference interpreter", "[zoo]") {
  check_cell("layernorm_lstm", 2300);
}
TEST_CASE("differential: zoo cell mlstm JIT vs reference interpreter", "[zoo]") {
  check_cell("mlstm", 2400);
}
TEST_CASE("differential: zoo cell mgu JIT vs reference interpreter", "[zoo]") {
  check_cell("mgu", 2500);
}
TEST_CASE("differential: zoo cell janet JIT vs reference interpreter", "[zoo]") {
  check_cell("janet", 2600);
}
TEST_CASE("differential: zoo cell indrnn JIT vs reference interpreter", "[zoo]") {
  check_cell("indrnn", 2700);
}
TEST_CASE("differential: zoo cell sru JIT vs reference interpreter", "[zoo]") {
  check_cell("sru", 2800);
}
