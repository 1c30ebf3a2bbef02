// drop_input_gradient: a layer's step graphs without dL/dx, for a network whose input needs no
// gradient (NetworkSpec::input_gradient = false: one-hot characters, fixed features).
//
// Runs on the pair choose_saved returns. The gradient of the input x is removed from the backward
// step's results and every node only it needed is pruned: for an LSTM the product W_ih^T dG over
// all T x B rows, a GEMM as large as the forward pass's input product. A value the forward step
// saved only for dL/dx is no longer saved. Everything else (the parameters' and the initial
// states' gradients) is computed as before.
#include <set>

#include "codegen/ir/error.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Graph;
using ir::NodeId;
using ir::Op;
using ir::Output;
using ir::Role;

namespace {

// A copy of `graph` without the results `drop_result` names and without the leaves `drop_leaf`
// names (which nothing may read), pruned to what the remaining results need.
template <class DropResult, class DropLeaf>
Graph without(const Graph& graph, const DropResult& drop_result, const DropLeaf& drop_leaf) {
  Graph out(graph.name());
  std::vector<NodeId> map(graph.size(), static_cast<NodeId>(-1));
  for (NodeId id = 0; id < static_cast<NodeId>(graph.size()); ++id) {
    ir::Node n = graph.node(id);
    if (drop_leaf(n)) continue;
    for (NodeId& a : n.args) {
      if (map[a] == static_cast<NodeId>(-1)) internal_error("drop_input_gradient: a dropped leaf is still read");
      a = map[a];
    }
    map[id] = out.make(n);
    if (!graph.label(id).empty()) out.set_label(map[id], graph.label(id));
  }
  for (const Output& o : graph.outputs())
    if (!drop_result(o)) out.add_output(o.role, o.name, map[o.node]);
  return ir::prune(out);
}

}  // namespace

std::pair<Graph, Graph> drop_input_gradient(const Graph& forward, const Graph& backward, const std::string& input) {
  // A cell whose input reaches its results only through stop_gradient or step has no dL/dx to drop.
  if (!backward.find_output(Role::grad, input)) return {forward, backward};
  const auto no_leaf = [](const ir::Node&) { return false; };
  Graph bwd = without(backward, [&](const Output& o) { return o.role == Role::grad && o.name == input; }, no_leaf);
  // The saved values the remaining results still read.
  std::vector<bool> read(bwd.size(), false);
  for (const Output& o : bwd.outputs()) read[o.node] = true;
  for (NodeId id = static_cast<NodeId>(bwd.size()); id-- > 0;)
    if (read[id])
      for (NodeId a : bwd.node(id).args) read[a] = true;
  std::set<std::string> unread;
  for (NodeId id : bwd.leaves(Op::saved))
    if (!read[id]) unread.insert(bwd.node(id).name);
  if (unread.empty()) return {forward, bwd};
  bwd = without(bwd, [](const Output&) { return false; },
                [&](const ir::Node& n) { return n.op == Op::saved && unread.count(n.name); });
  Graph fwd = without(forward, [&](const Output& o) { return o.role == Role::save && unread.count(o.name); }, no_leaf);
  return {fwd, bwd};
}

}  // namespace cellforge::passes
