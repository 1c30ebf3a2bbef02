// Random recurrent cells over the whole op set of the IR, for differential testing (the JIT
// against the reference interpreter) and fuzzing.
//
// A generated cell has one input x [X], one to three states of width H or 2H, parameters created
// as they are needed, and a random DAG of elementwise ops (every unary and binary op), matmuls and
// transposed matmuls, slices, concatenations, pads, row sums and means, batch sums and outer
// products, broadcasts, stop_gradient and constants, of random depth. Values are kept in ranges
// where float32 is well-behaved (NNSmith's lesson: an overflow makes every mismatch a false
// alarm): log, sqrt and rsqrt see arguments in [0.1, 2], denominators lie in [0.5, 2.5], and every
// next state goes through tanh, so states stay in (-1, 1) over any unroll length.
#pragma once

#include <cstdint>
#include <string>

#include "codegen/ir/graph.hpp"

namespace cellforge::testing {

struct RandomCellOptions {
  int max_states = 3;
  int min_nodes = 6;
  int max_nodes = 40;
};

/// A random valid cell (it passes ir::verify_cell); the same seed gives the same cell.
ir::Graph random_cell(uint64_t seed, const RandomCellOptions& options = {});

}  // namespace cellforge::testing
