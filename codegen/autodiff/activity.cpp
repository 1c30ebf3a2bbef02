// Activity analysis; see activity.hpp.
#include "codegen/autodiff/activity.hpp"

#include "codegen/autodiff/rules.hpp"

namespace cellforge::autodiff {

std::vector<bool> varied_nodes(const ir::Graph& graph, const std::vector<bool>& differentiated_leaves) {
  std::vector<bool> varied(graph.size(), false);
  for (ir::NodeId id = 0; id < graph.size(); ++id) {
    const ir::Node& n = graph.node(id);
    if (ir::op_family(n.op) == ir::OpFamily::Leaf) {
      varied[id] = differentiated_leaves[id];
      continue;
    }
    if (!rule(n.op).differentiable) continue;
    for (ir::NodeId a : n.args) varied[id] = varied[id] || varied[a];
  }
  return varied;
}

std::vector<bool> useful_nodes(const ir::Graph& graph, const std::vector<ir::NodeId>& roots) {
  std::vector<bool> useful(graph.size(), false);
  for (ir::NodeId r : roots) useful[r] = true;
  for (ir::NodeId id = static_cast<ir::NodeId>(graph.size()); id-- > 0;)
    if (useful[id])
      for (ir::NodeId a : graph.node(id).args) useful[a] = true;
  return useful;
}

}  // namespace cellforge::autodiff
