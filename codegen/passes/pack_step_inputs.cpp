// pack_step_inputs: a step graph as a function of one vector, for analysis.
//
// The Jacobian-vector and vector-Jacobian products of a cell's step (autodiff::linearize,
// autodiff::state_vjp) read several per-row values: the step's input, the states, and the vector
// being multiplied. This pass makes such a graph a stateless cell of one input z — the listed
// leaves side by side, each replaced by its slice of z — and one output, the listed results side
// by side. Compiled as a network of one layer, it then evaluates the product for every step and
// every row of a sequence at once (the whole graph is time-parallel), and power iteration on the
// step Jacobian costs two such calls per iteration. The input size X of the step is renamed X_step
// (a network binds X to its input, here z).
#include "codegen/ir/error.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::NodeId;
using ir::Op;

ir::Graph pack_step_inputs(const ir::Graph& graph, const std::vector<std::string>& leaves,
                           const std::vector<std::pair<ir::Role, std::string>>& results) {
  // A per-row leaf by name: an input, a state or a seed.
  auto find = [&](const std::string& name) {
    for (Op kind : {Op::input, Op::state, Op::seed})
      if (int64_t id = graph.find_leaf(kind, name); id >= 0) return static_cast<NodeId>(id);
    internal_error("pack_step_inputs: graph '", graph.name(), "' has no input, state or seed '", name, "'");
  };
  ir::Dim width;
  for (const std::string& name : leaves) width = width + graph.type(find(name)).rows;
  // The packed cell's input is z, so a network binds X to z's width; the step's own input size
  // becomes the size X_step.
  auto renamed = [](const ir::Dim& d) {
    ir::Dim out = ir::Dim::constant(d.constant_part());
    for (const auto& [name, coefficient] : d.terms())
      out = out + ir::Dim::named(name == "X" ? "X_step" : name) * coefficient;
    return out;
  };
  ir::Graph out(graph.name() + "_packed");
  const NodeId z = out.input("z", renamed(width));
  std::vector<NodeId> map(graph.size());
  for (NodeId id = 0; id < graph.size(); ++id) {
    ir::Node n = graph.node(id);
    for (NodeId& a : n.args) a = map[a];
    n.type.rows = renamed(n.type.rows);
    n.type.cols = renamed(n.type.cols);
    n.offset = renamed(n.offset);
    if (n.op == Op::input || n.op == Op::state || n.op == Op::seed) {
      ir::Dim offset;
      bool packed = false;
      for (const std::string& name : leaves) {
        const NodeId leaf = find(name);
        if (leaf == id) {
          map[id] = out.slice(z, renamed(offset), n.type.rows);
          packed = true;
          break;
        }
        offset = offset + graph.type(leaf).rows;
      }
      if (!packed) internal_error("pack_step_inputs: per-row leaf '", n.name, "' of '", graph.name(), "' is not packed");
      continue;
    }
    map[id] = out.make(n);
    if (!graph.label(id).empty()) out.set_label(map[id], graph.label(id));
  }
  std::vector<NodeId> parts;
  for (const auto& [role, name] : results) {
    const ir::Output* o = graph.find_output(role, name);
    if (!o) internal_error("pack_step_inputs: graph '", graph.name(), "' has no result ", ir::role_name(role), " ", name);
    NodeId v = map[o->node];
    // A result that does not depend on the row (a zero tangent) is made per-row.
    if (out.type(v).shared) v = out.batch_broadcast(v);
    parts.push_back(v);
  }
  out.add_output(ir::Role::output, "y", parts.size() == 1 ? parts[0] : out.concat(parts));
  // A parameter the product does not read (W_xh in the Jacobian of a linear recurrence) is dropped:
  // a cell must use every leaf it declares.
  return ir::prune(out, /*drop_unused_leaves=*/true);
}

}  // namespace cellforge::passes
