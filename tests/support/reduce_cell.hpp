// Test-case reduction for cells (delta debugging on the graph): given a cell on which some check
// fails, repeatedly tries smaller cells — a node replaced by one of its operands or by a leaf of the
// same type — and keeps each one on which the check still fails. What is left is the small
// regression test a fuzzer failure should become.
#pragma once

#include <functional>

#include "codegen/ir/graph.hpp"

namespace cellforge::testing {

/// A smaller cell on which `fails` is still true (`fails(cell)` must be true to start with).
/// Candidates that are not valid cells are skipped.
ir::Graph reduce_cell(const ir::Graph& cell, const std::function<bool(const ir::Graph&)>& fails);

}  // namespace cellforge::testing
