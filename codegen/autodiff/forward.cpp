// Forward-mode differentiation of a step graph with respect to its states (linearize); see
// differentiate.hpp. One sweep in node order: each varied node's tangent comes from its operands'
// tangents through the forward half of its rule.
#include <optional>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/autodiff/rules.hpp"
#include "codegen/ir/error.hpp"

namespace cellforge::autodiff {

using ir::Graph;
using ir::NodeId;
using ir::Op;

Graph linearize(const Graph& cell) {
  Graph g(cell.name() + "_jvp");
  for (NodeId id = 0; id < cell.size(); ++id) {
    if (g.make(cell.node(id)) != id) internal_error("copying graph '", cell.name(), "' changed node ids");
    if (!cell.label(id).empty()) g.set_label(id, cell.label(id));
  }
  std::vector<std::optional<NodeId>> tangent(cell.size());
  // The tangent of state s is the input "d<s>", renamed if the cell already has a leaf of that name
  // (hash-consing would otherwise make it that leaf).
  auto free_name = [&](std::string name) {
    for (;;) {
      bool taken = false;
      for (NodeId id = 0; id < g.size(); ++id)
        taken = taken || (ir::op_family(g.node(id).op) == ir::OpFamily::Leaf && g.node(id).name == name);
      if (!taken) return name;
      name += "_";
    }
  };
  for (NodeId s : cell.leaves(Op::state)) tangent[s] = g.input(free_name("d" + cell.node(s).name), cell.type(s).rows);
  for (NodeId id = 0; id < cell.size(); ++id) {
    const ir::Node& n = cell.node(id);
    if (ir::op_family(n.op) == ir::OpFamily::Leaf || !rule(n.op).differentiable) continue;
    std::vector<std::optional<NodeId>> operand_tangents;
    bool any = false;
    for (NodeId a : n.args) {
      operand_tangents.push_back(tangent[a]);
      any = any || tangent[a].has_value();
    }
    if (!any) continue;
    ForwardContext context(g, id, std::move(operand_tangents));
    tangent[id] = rule(n.op).forward(context);
    if (tangent[id] && !cell.label(id).empty()) g.set_label(*tangent[id], "d" + cell.label(id));
  }
  for (const ir::Output& o : cell.outputs()) {
    if (o.role != ir::Role::next) continue;
    NodeId t = tangent[o.node] ? *tangent[o.node] : g.constant(0.0, cell.type(o.node).rows);
    g.add_output(ir::Role::output, "d" + o.name + "_next", t);
  }
  return g;
}

}  // namespace cellforge::autodiff
