// Graphviz DOT rendering of a step graph. Leaves are boxes (inputs blue, states green, parameters
// grey, seeds orange), results are double octagons, and the path that carries each state from
// the step's start to its end is drawn in a colour of its own: in an LSTM's forward graph the path
// c -> f*c -> c_next, in its backward graph dc_next -> ... -> dc, the cell-state highway.
#pragma once

#include <string>

#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

std::string to_dot(const Graph& graph);

/// The nodes that lie on a path from the start of state `state` in this step (its leaf in a
/// forward graph, its seed in a backward graph) to its end (its next value, or its gradient).
std::vector<bool> state_path(const Graph& graph, const std::string& state);

}  // namespace cellforge::ir
