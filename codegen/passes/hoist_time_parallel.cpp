// hoist_time_parallel: which nodes run inside the time loop, and which run once over all steps.
//
// Only the work on the path from a carried leaf (a state, or in BPTT the gradient of a state) to a
// carried result has to run step by step. A matmul that reads only x_t and parameters can run for
// all T*B rows at once before the loop, as one large GEMM instead of T small ones (cuDNN and oneDNN
// do this by hand for their LSTM; this pass finds it for any cell). After the loop, the same holds
// for work that reads loop values but feeds no carried result: the weight gradients
// dW = sum_t dz_t x_t^T and the input gradients dx_t = W^T dz_t become GEMMs over all T*B rows.
//
// Rules, for a per-row node n:
//   loop   n depends on a carried leaf and a carried result (or per-step work, below) depends on n;
//   pre    n depends on no carried leaf and is a matmul, or feeds a pre node; other such nodes run
//          in the earliest phase that uses them (they are cheap elementwise work);
//   post   n depends on a carried leaf, no carried result needs it, and it is a product
//          (matmul, matmul_t, outer), a batch sum, or reads a post node — except a batch sum of a
//          value nothing else after the loop reads, which adds up in the loop (below).
// Shared nodes (the same for every row) run once in the shared phase, unless they read a post node.
// With hoisting off, every per-row node runs in the loop.
//
// Sums over the batch (outer, batch_sum) need care. Inside a step they sum over the rows of that
// step only; summing over all T*B rows at once is right only when the sum is *time-summed*: when
// every use of it is a linear combination that ends in a parameter's gradient, which BPTT sums
// over the steps anyway. Those run after the loop as one reduction. Any other batch sum is a
// per-step value: it and everything that reads it run in the loop. A time-summed reduction of a
// per-step shared value runs in the loop too and adds into its result at every step.
#include "codegen/ir/error.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Node;
using ir::NodeId;
using ir::Op;
using ir::Role;

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::shared: return "shared";
    case Phase::pre: return "pre";
    case Phase::loop: return "loop";
    case Phase::post: return "post";
  }
  return "?";
}

int ScanSchedule::stages(Phase p) const {
  int n = 0;
  for (size_t id = 0; id < phase.size(); ++id)
    if (phase[id] == p && stage[id] + 1 > n) n = stage[id] + 1;
  return n;
}

namespace {

bool is_product(Op op) { return op == Op::matmul || op == Op::matmul_t || op == Op::outer; }

// Is the leaf carried from the previous step of this scan?
bool is_carried(const Node& n, bool reverse) {
  if (!reverse) return n.op == Op::state;
  return n.op == Op::seed && n.seed_role == Role::next;
}

// Is the result carried to the next step of this scan?
bool is_carried_result(const ir::Output& o, const ir::Graph& g, bool reverse) {
  if (!reverse) return o.role == Role::next;
  return o.role == Role::grad && g.find_leaf(Op::state, o.name) >= 0;
}

bool is_batch_reduction(Op op) { return op == Op::outer || op == Op::batch_sum; }

// Is `user` linear in its operand `operand` (so that a sum over steps passes through it)? A factor
// that is the same at every step (a function of parameters and constants only) keeps it linear.
bool linear_in(const ir::Graph& g, NodeId user, NodeId operand, const std::vector<bool>& invariant) {
  const Node& u = g.node(user);
  if (u.op == Op::add || u.op == Op::sub || u.op == Op::neg) return true;
  if (u.op == Op::mul || (u.op == Op::div && u.args[0] == operand)) {
    for (NodeId a : u.args)
      if (a != operand && !invariant[a]) return false;
    return true;
  }
  return false;
}

}  // namespace

ScanSchedule hoist_time_parallel(const ir::Graph& graph, bool reverse, bool hoist) {
  ScanSchedule s;
  s.graph = graph;
  s.reverse = reverse;
  const size_t n = graph.size();
  std::vector<bool> depends(n, false), feeds(n, false);
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = graph.node(id);
    if (ir::op_family(node.op) == ir::OpFamily::Leaf) {
      depends[id] = is_carried(node, reverse);
      if (depends[id]) s.carried_leaves.push_back(id);
      continue;
    }
    for (NodeId a : node.args) depends[id] = depends[id] || depends[a];
  }

  // Users, to place time-parallel elementwise nodes in the earliest phase that reads them.
  std::vector<std::vector<NodeId>> users(n);
  for (NodeId id = 0; id < n; ++id)
    for (NodeId a : graph.node(id).args) users[a].push_back(id);

  // Step-invariant values: functions of parameters and constants only.
  std::vector<bool> invariant(n, false);
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = graph.node(id);
    invariant[id] = node.op == Op::param || node.op == Op::constant ||
                    (ir::op_family(node.op) != ir::OpFamily::Leaf && !is_batch_reduction(node.op));
    for (NodeId a : node.args) invariant[id] = invariant[id] && invariant[a];
  }
  // Time-summed shared values: every use is linear and ends in a parameter's gradient.
  std::vector<bool> summed(n, false);
  for (NodeId id = static_cast<NodeId>(n); id-- > 0;) {
    if (!graph.node(id).type.shared) continue;
    bool used = false, ok = true;
    for (const ir::Output& o : graph.outputs())
      if (o.node == id) {
        used = true;
        ok = ok && o.role == Role::grad && graph.find_leaf(Op::param, o.name) >= 0;
      }
    for (NodeId u : users[id]) {
      used = true;
      ok = ok && summed[u] && linear_in(graph, u, id, invariant);
    }
    summed[id] = used && ok;
  }
  // Per-step values: batch sums that are not time-summed, and what depends on them.
  std::vector<bool> per_step(n, false);
  s.accumulate.assign(n, false);
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = graph.node(id);
    bool per_step_operand = false, per_step_shared_operand = false;
    for (NodeId a : node.args) {
      per_step_operand = per_step_operand || per_step[a];
      per_step_shared_operand = per_step_shared_operand || (per_step[a] && graph.type(a).shared);
    }
    if (is_batch_reduction(node.op) && summed[id]) s.accumulate[id] = per_step_shared_operand;
    else per_step[id] = (is_batch_reduction(node.op) && !summed[id]) || per_step_operand;
  }
  // What the loop needs: the carried results, and the per-step work forced into the loop.
  for (const ir::Output& o : graph.outputs())
    if (is_carried_result(o, graph, reverse)) feeds[o.node] = true;
  for (NodeId id = 0; id < n; ++id)
    if (per_step[id] || s.accumulate[id]) feeds[id] = true;
  for (NodeId id = static_cast<NodeId>(n); id-- > 0;)
    if (feeds[id])
      for (NodeId a : graph.node(id).args) feeds[a] = true;

  s.phase.assign(n, Phase::loop);
  // Forward sweep: everything that can be decided from operands.
  std::vector<bool> undecided(n, false);
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = graph.node(id);
    bool post_operand = false;
    for (NodeId a : node.args) post_operand = post_operand || s.phase[a] == Phase::post || s.accumulate[a];
    if (ir::op_family(node.op) == ir::OpFamily::Leaf) {
      s.phase[id] = node.op == Op::param || node.op == Op::constant ? Phase::shared
                    : depends[id]                                   ? Phase::loop
                                                                    : Phase::pre;
    } else if (s.accumulate[id] || per_step[id]) {
      s.phase[id] = Phase::loop;
    } else if (node.type.shared && node.op != Op::outer && node.op != Op::batch_sum) {
      s.phase[id] = post_operand ? Phase::post : Phase::shared;
    } else if (!hoist) {
      s.phase[id] = (post_operand || node.op == Op::outer || node.op == Op::batch_sum) ? Phase::post : Phase::loop;
    } else if (depends[id] && feeds[id]) {
      s.phase[id] = Phase::loop;
    } else if (depends[id] || post_operand) {
      bool reduction = is_product(node.op) || node.op == Op::batch_sum;
      s.phase[id] = (reduction || post_operand) ? Phase::post : Phase::loop;
    } else if (is_product(node.op) || node.op == Op::batch_sum) {
      s.phase[id] = node.op == Op::outer || node.op == Op::batch_sum ? Phase::post : Phase::pre;
    } else {
      undecided[id] = true;  // time-parallel elementwise: decided by its users below
    }
  }
  // Backward sweep: a time-parallel elementwise node runs in the earliest phase of its users.
  for (NodeId id = static_cast<NodeId>(n); id-- > 0;) {
    if (!undecided[id]) continue;
    Phase earliest = Phase::post;
    bool any = false;
    for (NodeId u : users[id]) {
      Phase p = s.phase[u];
      if (p == Phase::shared) continue;
      if (!any || static_cast<int>(p) < static_cast<int>(earliest)) earliest = p;
      any = true;
    }
    // A result that depends on no carried value is written for all steps before the loop.
    for (const ir::Output& o : graph.outputs())
      if (o.node == id) {
        earliest = Phase::pre;
        any = true;
      }
    s.phase[id] = any ? earliest : Phase::loop;
  }
  // A time-summed batch sum of a loop value that nothing after the loop reads otherwise runs in the
  // loop instead, adding each step's sum into its result: the value then lives in a buffer of one
  // step, in cache, where summing it after the loop would store it for all T steps and read it back
  // (a layer norm's gain and bias gradients). A value the products after the loop read anyway (an
  // LSTM's dgates, for dW) is summed after the loop with them.
  if (hoist)
    for (NodeId id = 0; id < n; ++id) {
      const Node& node = graph.node(id);
      if (node.op != Op::batch_sum || s.phase[id] != Phase::post || !summed[id] || s.accumulate[id]) continue;
      const NodeId a = node.args[0];
      if (s.phase[a] != Phase::loop || graph.type(a).shared) continue;
      bool only_loop = true;
      for (NodeId u : users[a])
        only_loop = only_loop && (s.phase[u] == Phase::loop || (graph.node(u).op == Op::batch_sum && summed[u]));
      for (const ir::Output& o : graph.outputs()) only_loop = only_loop && o.node != a;
      if (!only_loop) continue;
      s.phase[id] = Phase::loop;
      s.accumulate[id] = true;
    }
  s.stage.assign(n, 0);
  s.materialized.assign(n, false);
  s.folded.assign(n, false);
  return s;
}

}  // namespace cellforge::passes
