// Reduces a failing random cell (or a cell read from a file) to a small one on which the JIT still
// disagrees with the reference interpreter, and prints it in the IR's text form: the regression
// test a fuzzer failure becomes.
//
//   reduce_random_cell SEED|FILE [hidden batch unroll layers threads]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "support/jit_harness.hpp"
#include "support/random_cell.hpp"
#include "support/reduce_cell.hpp"

using namespace cellforge;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: reduce_random_cell SEED|FILE [hidden batch unroll layers threads]\n");
    return 2;
  }
  ir::Graph cell;
  if (std::ifstream in(argv[1]); in) {
    std::stringstream text;
    text << in.rdbuf();
    cell = ir::parse(text.str());
  } else {
    cell = testing::random_cell(std::strtoull(argv[1], nullptr, 10));
  }
  ir::NetworkSizes sizes;
  sizes.input = 5;
  sizes.hidden = argc > 2 ? std::atoll(argv[2]) : 7;
  sizes.batch = argc > 3 ? std::atoll(argv[3]) : 3;
  sizes.unroll = argc > 4 ? std::atoll(argv[4]) : 3;
  sizes.layers = argc > 5 ? std::atoll(argv[5]) : 1;
  testing::HarnessOptions options;
  options.threads = argc > 6 ? std::atoi(argv[6]) : 1;
  options.passes = {};
  auto worst = [&](const ir::Graph& g) {
    try {
      return testing::compare_with_reference(g, sizes, options).worst.relative;
    } catch (const std::exception& e) {
      return 0.0;  // another error is not the failure being reduced
    }
  };
  double start = worst(cell);
  std::fprintf(stderr, "start: %zu nodes, worst relative difference %.3g\n", cell.size(), start);
  if (!(start > 1e-4)) return 1;
  ir::Graph small = testing::reduce_cell(cell, [&](const ir::Graph& g) { return worst(g) > 1e-4; });
  std::fprintf(stderr, "reduced: %zu nodes, worst relative difference %.3g\n", small.size(), worst(small));
  std::fputs(ir::print(small).c_str(), stdout);
  return 0;
}
