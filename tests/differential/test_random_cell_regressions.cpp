// Regression cases found by the random-cell fuzzer (test_random_cells.cpp and its long runs), each
// reduced with tests/tools/reduce_random_cell to the few nodes that still disagreed, and kept here
// in the IR's text form with the seed and sizes that found it. Every case runs with all passes on
// and with each pass switched off, so a failure names the pass it depends on.
#include <catch2/catch.hpp>

#include <string>

#include "codegen/ir/text.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

struct Regression {
  const char* found_by;  // the seed and sizes of the random cell the case was reduced from
  const char* cell;      // the reduced cell
  ir::NetworkSizes sizes;
  int threads;
};

ir::NetworkSizes sizes_of(int64_t hidden, int64_t batch, int64_t unroll, int64_t layers) {
  ir::NetworkSizes s;
  s.input = 5;
  s.hidden = hidden;
  s.batch = batch;
  s.unroll = unroll;
  s.layers = layers;
  return s;
}

void check_regression(const Regression& r) {
  const ir::Graph cell = ir::parse(r.cell);
  struct Variant {
    const char* name;
    passes::PassOptions passes;
  };
  std::vector<Variant> variants = {{"all passes", {}}};
  variants.push_back({"without simplify", {}});
  variants.back().passes.simplify = false;
  variants.push_back({"without sink_slices", {}});
  variants.back().passes.sink_slices = false;
  variants.push_back({"without hoist_time_parallel", {}});
  variants.back().passes.hoist_time_parallel = false;
  variants.push_back({"without fuse_elementwise", {}});
  variants.back().passes.fuse_elementwise = false;
  variants.push_back({"without rematerialize", {}});
  variants.back().passes.rematerialize = false;
  for (const Variant& v : variants) {
    testing::HarnessOptions options;
    options.threads = r.threads;
    options.passes = v.passes;
    testing::Comparison c = testing::compare_with_reference(cell, r.sizes, options);
    std::string tensors;
    for (const auto& [name, difference] : c.tensors) tensors += "\n  " + name + ": " + std::to_string(difference);
    INFO(r.found_by << ", " << v.name << ": worst " << c.worst.relative << " in " << c.worst.where << tensors << "\n"
                    << r.cell);
    CHECK_FALSE(c.worst.nonfinite_mismatch);
    CHECK(c.worst.relative < 1e-4);
  }
}

}  // namespace

TEST_CASE("differential: random cell regression: a per-row concat whose first part is a batch sum") {
  check_regression({"random cell seed 100102 (T=1 L=1 B=3 H=9 threads=2)", R"(cell random {
  input %x : [X]
  state %s0 : [H]
  param %W0 : [H, X]
  %0 = matmul %W0, %x : [H]
  %1 = pad %s0, H : [2H]
  %2 = batch_sum %s0 : [H]
  %3 = concat %2, %1 : [3H]
  %4 = slice %3, 0 : [H]
  next s0 = %4
  output y = %0
})", sizes_of(9, 3, 3, 1), 1});
}

TEST_CASE("differential: random cell regression: a concatenation placed inside another") {
  check_regression({"random cell seed 1666 (T=1 L=2 B=8 H=9 threads=1)", R"(cell random {
  input %x : [X]
  state %s0 : [H]
  state %s1 : [2H]
  state %s2 : [H]
  param %W2 : [2H, 2H]
  %0 = matmul %W2, %s1 : [2H]
  %1 = pad %x, X : [2X]
  %2 = constant 1.5 : [1]
  %3 = div %x, %2 : [X]
  %4 = concat %3, %1 : [3X]
  %5 = tanh %s0 : [H]
  %6 = concat %4, %s2 : [H+3X]
  param %W14 : [H, H+3X]
  %7 = matmul %W14, %6 : [H]
  next s0 = %5
  next s1 = %0
  next s2 = %7
  output y = %5
})", sizes_of(9, 8, 1, 2), 1});
}

TEST_CASE("differential: random cell regression: an elementwise op on matrices runs over all their elements") {
  // The backward graph adds two outer products (the gradient of a matrix used twice); the fused
  // loop for that add covered H elements of the [H, H] matrices instead of H * H.
  check_regression({"random cell seed 112295 (T=1 L=1 B=3 H=9 threads=2)", R"(cell random {
  input %x : [X]
  state %s0 : [H]
  state %s2 : [H]
  param %W0 : [H, X]
  %0 = matmul %W0, %x : [H]
  %1 = outer %s2, %0 : [H, H]
  %2 = matmul %1, %s2 : [H]
  %3 = matmul %1, %s0 : [H]
  next s0 = %3
  next s2 = %2
  output y = %2
})", sizes_of(9, 1, 1, 1), 1});
}
