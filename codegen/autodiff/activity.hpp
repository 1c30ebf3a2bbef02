// Activity analysis: which nodes get adjoints (or tangents). A node is *varied* when it depends on
// a leaf being differentiated through ops that pass derivatives on (not stop_gradient, not step),
// and *useful* when a seeded result depends on it. Only nodes that are both are active; everything
// else is left out of the derivative graph.
#pragma once

#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::autodiff {

/// varied[id] for every node, given which leaves are differentiated.
std::vector<bool> varied_nodes(const ir::Graph& graph, const std::vector<bool>& differentiated_leaves);

/// useful[id] for every node: some node in `roots` depends on it.
std::vector<bool> useful_nodes(const ir::Graph& graph, const std::vector<ir::NodeId>& roots);

}  // namespace cellforge::autodiff
