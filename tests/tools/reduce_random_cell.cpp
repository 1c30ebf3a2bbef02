// Reduces a failing random cell (or a cell read from a file) to a small one on which the JIT still
// disagrees with the reference interpreter, and prints it in the IR's text form: the regression
// test a fuzzer failure becomes.
//
//   reduce_random_cell SEED|FILE [hidden batch unroll layers threads]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

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
  // A cell fails by disagreeing with the reference interpreter, or by making the compiler throw; a
  // reduction keeps the kind of failure it started with (the same message, for a throw).
  struct Outcome {
    double worst = 0;
    std::string error;
  };
  auto run = [&](const ir::Graph& g) {
    Outcome o;
    try {
      o.worst = testing::compare_with_reference(g, sizes, options).worst.relative;
    } catch (const std::exception& e) {
      o.error = e.what();
    }
    return o;
  };
  const Outcome start = run(cell);
  if (!start.error.empty())
    std::fprintf(stderr, "start: %zu nodes, throws: %s\n", cell.size(), start.error.c_str());
  else
    std::fprintf(stderr, "start: %zu nodes, worst relative difference %.3g\n", cell.size(), start.worst);
  auto fails = [&](const ir::Graph& g) {
    const Outcome o = run(g);
    return start.error.empty() ? o.error.empty() && o.worst > 1e-4 : o.error == start.error;
  };
  if (!fails(cell)) return 1;
  ir::Graph small = testing::reduce_cell(cell, fails);
  std::fprintf(stderr, "reduced: %zu nodes\n", small.size());
  std::fputs(ir::print(small).c_str(), stdout);
  return 0;
}
