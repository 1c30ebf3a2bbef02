// choose_saved: what the forward step stores for BPTT.
//
// The backward graph from differentiate() contains the forward computation it needs (it starts as a
// copy of the forward graph). Running it as it is would recompute every forward value in the
// backward pass, matmuls included. Instead, every forward value on the frontier of the backward
// computation — a forward node read directly by a node that depends on a seed — is saved by the
// forward step (a `save` result, stored per step) and read back by the backward step as a `saved`
// leaf. Values the backward graph derives from forward values without seeds (1 - tanh(c)^2) are
// recomputed from the saved ones: that is elementwise work the backward loop fuses for free, and it
// keeps the stored state to what cuDNN keeps (the activated gates and the cell state).
//
// Leaves are never saved: inputs and states are already stored as sequences, parameters are shared.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "codegen/ir/error.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Graph;
using ir::Node;
using ir::NodeId;
using ir::Op;

std::pair<Graph, Graph> choose_saved(const Graph& forward, const Graph& backward) {
  const size_t forward_size = forward.size();
  for (NodeId id = 0; id < forward_size; ++id)
    if (id >= backward.size() || !ir::same_node(forward.node(id), backward.node(id)))
      internal_error("choose_saved: the backward graph of '", forward.name(), "' does not start with its forward graph");

  // Which backward nodes depend on a seed.
  std::vector<bool> seeded(backward.size(), false);
  for (NodeId id = 0; id < backward.size(); ++id) {
    const Node& n = backward.node(id);
    seeded[id] = n.op == Op::seed;
    for (NodeId a : n.args) seeded[id] = seeded[id] || seeded[a];
  }
  // The forward values the seeded part reads, found by walking down through recomputable nodes.
  std::set<NodeId> saved;
  std::vector<bool> visited(backward.size(), false);
  std::function<void(NodeId)> need = [&](NodeId id) {
    if (visited[id]) return;
    visited[id] = true;
    const Node& n = backward.node(id);
    if (ir::op_family(n.op) == ir::OpFamily::Leaf) return;
    // stop_gradient is the identity: its argument is the same vector (for a mask input, a leaf the
    // backward step reads anyway, so nothing is stored).
    if (n.op == Op::stop_gradient) return need(n.args[0]);
    // Shared values (functions of parameters) are recomputed once per call, never stored per step.
    if (id < forward_size && !n.type.shared) {
      saved.insert(id);
      return;
    }
    for (NodeId a : n.args) need(a);
  };
  std::vector<NodeId> live = ir::live_nodes(backward);
  for (NodeId id : live)
    if (seeded[id])
      for (NodeId a : backward.node(id).args)
        if (!seeded[a]) need(a);

  // A saved value that is one arithmetic op away from other saved values, leaves, per-row scalars
  // and matmul results is recomputed instead (the scalars and matmul results are saved): a layer
  // norm's normalized value is its centered value times 1/sigma, and the centered value is W x
  // minus its mean. A matmul writes its result to memory anyway (the GEMM writes the saved copy
  // directly); a separately stored vector costs a write per step in the forward pass and a read
  // back in the memory-bound backward pass, where recomputing costs one op.
  // What the backward step reads without storing anything: leaves, shared values, and
  // stop_gradient of those (the identity: a zoneout mask's 1 - mask is recomputed from the mask).
  std::function<bool(NodeId)> free_to_read = [&](NodeId a) {
    const Node& n = backward.node(a);
    return ir::op_family(n.op) == ir::OpFamily::Leaf || backward.type(a).shared ||
           (n.op == Op::stop_gradient && free_to_read(n.args[0]));
  };
  auto at_hand = [&](NodeId a) {
    return free_to_read(a) || saved.count(a) || backward.type(a).is_scalar() || backward.node(a).op == Op::matmul;
  };
  // Last value first, so that a chain (normalized <- centered <- W x) unwinds down to its start.
  for (NodeId id : std::vector<NodeId>(saved.rbegin(), saved.rend())) {
    const Node& n = backward.node(id);
    if (!ir::is_arithmetic(n.op) || n.type.is_scalar() || n.type.is_matrix() ||
        !std::all_of(n.args.begin(), n.args.end(), at_hand))
      continue;
    saved.erase(id);
    for (NodeId a : n.args)
      if (!free_to_read(a)) saved.insert(a);
  }

  // Names for the saved values: the forward label where it is free, else s0, s1, ...
  std::set<std::string> taken;
  for (NodeId id = 0; id < backward.size(); ++id)
    if (ir::op_family(backward.node(id).op) == ir::OpFamily::Leaf) taken.insert(backward.node(id).name);
  std::map<NodeId, std::string> names;
  int counter = 0;
  for (NodeId id : saved) {
    std::string name = forward.label(id);
    if (name.empty() || taken.count(name)) {
      do name = "s" + std::to_string(counter++);
      while (taken.count(name));
    }
    taken.insert(name);
    names[id] = name;
  }

  Graph forward_out = forward;
  for (const auto& [id, name] : names) forward_out.add_output(ir::Role::save, name, id);
  Graph backward_out = ir::rewrite(backward, [&](ir::RewriteStep& s) -> NodeId {
    auto it = names.find(s.old_id);
    if (it == names.end()) return ir::copy_node(s);
    NodeId leaf = s.out.saved(it->second, s.node.type.rows);
    return leaf;
  });
  return {std::move(forward_out), std::move(backward_out)};
}

}  // namespace cellforge::passes
