// The cell a command works on: --graph FILE (IR text, parsed and verified) or --cell NAME (a zoo
// cell; lstm by default). Shared by inspect, check and train.
#pragma once

#include <vector>

#include "codegen/ir/graph.hpp"
#include "runtime/cli/args.hpp"

namespace cellforge::cli {

/// The options cell_from_options() reads, for a command's declaration: --cell and --graph.
std::vector<Option> cell_options();

ir::Graph cell_from_options(const Args& args);

}  // namespace cellforge::cli
