// drop_input_gradient: a layer's step graphs without dL/dx, for a network whose input needs no
// gradient (NetworkSpec::input_gradient = false: one-hot characters, fixed features).
//
// Runs on the pair choose_saved returns. The gradient of the input x is removed from the backward
// step's results and every node only it needed is pruned: for an LSTM the product W_ih^T dG over
// all T x B rows, a GEMM as large as the forward pass's input product. A value the forward step
// saved only for dL/dx is no longer saved. Everything else (the parameters' and the initial
// states' gradients) is computed as before.
#include <set>

#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Graph;
using ir::NodeId;
using ir::Op;
using ir::Output;
using ir::Role;

std::pair<Graph, Graph> drop_input_gradient(const Graph& forward, const Graph& backward, const std::string& input) {
  // A cell whose input reaches its results only through stop_gradient or step has no dL/dx to drop.
  if (!backward.find_output(Role::grad, input)) return {forward, backward};
  // The backward step without dL/dx, and without the saved values nothing else reads.
  Graph bwd = ir::prune(backward, [&](const Output& o) { return !(o.role == Role::grad && o.name == input); },
                        [](const ir::Node& leaf) { return leaf.op != Op::saved; });
  std::set<std::string> unread;
  for (NodeId id : backward.leaves(Op::saved))
    if (bwd.find_leaf(Op::saved, backward.node(id).name) < 0) unread.insert(backward.node(id).name);
  if (unread.empty()) return {forward, bwd};
  // The forward step no longer saves them.
  Graph fwd = ir::prune(forward, [&](const Output& o) { return !(o.role == Role::save && unread.count(o.name)); },
                        [](const ir::Node&) { return true; });
  return {fwd, bwd};
}

}  // namespace cellforge::passes
