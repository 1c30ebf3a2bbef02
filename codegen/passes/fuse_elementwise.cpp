// fuse_elementwise: stages, fused loops and buffers.
//
// Within a phase, work runs in stages. A stage first runs its products (GEMMs and batch sums), then
// its fused groups: each group is one loop over the rows of the phase and the features of one
// width, computing all its nodes in registers (an LSTM step's whole gate arithmetic is one group
// of width H). A node joins the group of its operands when they have its width; it starts a later
// stage when it reads a product of a later stage, a value of another width, a row reduction (sum,
// mean: complete only after its loop), a concatenation, or a slice of an unmaterialized value.
// Row reductions run inside the loop of their operand.
//
// A value is materialized (given a buffer) when something outside its group reads it: a node of
// another group, stage or phase, a product, a slice or concat, or a result. Slices of materialized
// values are views (an offset), never copies. Shared values made only of constants and sizes
// (1/H for a mean's derivative) are folded: the lowering computes them at compile time.
//
// Concatenations and pads are assembled in their buffer at the end of their stage (the lowering
// lets parts that are computed only for the concatenation write straight into it).
//
// With fusion off, every elementwise node is a group of its own, and every value is materialized.
#include <algorithm>
#include <functional>
#include <map>
#include <tuple>

#include "codegen/ir/error.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Node;
using ir::NodeId;
using ir::Op;

namespace {

bool is_product(Op op) { return op == Op::matmul || op == Op::matmul_t || op == Op::outer || op == Op::batch_sum; }
bool is_row_reduction(Op op) { return op == Op::sum || op == Op::mean; }
bool is_buffer_op(Op op) { return op == Op::concat || op == Op::pad; }

}  // namespace

void fuse_elementwise(ScanSchedule& s, bool fuse) {
  const ir::Graph& g = s.graph;
  const size_t n = g.size();
  s.stage.assign(n, 0);
  s.materialized.assign(n, false);
  s.folded.assign(n, false);
  if (s.accumulate.size() != n) s.accumulate.assign(n, false);
  s.products.clear();
  s.groups.clear();

  // Folded: constants, and shared arithmetic on folded values.
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (node.op == Op::constant) {
      s.folded[id] = true;
      continue;
    }
    if (!node.type.shared || node.type.is_matrix() || ir::op_family(node.op) == ir::OpFamily::Leaf ||
        is_product(node.op))
      continue;
    bool all = !node.args.empty();
    for (NodeId a : node.args) all = all && s.folded[a];
    s.folded[id] = all;
  }

  auto computed_here = [&](NodeId a, Phase p) {
    return s.phase[a] == p && !s.folded[a] && ir::op_family(g.node(a).op) != ir::OpFamily::Leaf;
  };
  auto width_of = [&](NodeId id) {
    const Node& node = g.node(id);
    return is_row_reduction(node.op) ? g.type(node.args[0]).rows : node.type.rows;
  };
  // The loop a node's elementwise work runs in: its width, and for a matrix (an elementwise op on
  // parameters' gradients, say) its columns too — a matrix [H, H] is not a vector of length H.
  auto loop_of = [&](NodeId id) {
    const ir::Type& t = g.type(id);
    return width_of(id).str() + (t.is_matrix() ? " x " + t.cols.str() : "") + (t.shared ? " shared" : "");
  };
  std::vector<bool> is_view(n, false);

  // The stage during which the memory of a value is completed: products and groups write during
  // their stage, concatenations at its end, a view is its operand's memory; leaves, folded values
  // and values of earlier phases are complete before the phase starts (0).
  std::function<int(NodeId, Phase)> written = [&](NodeId a, Phase p) -> int {
    if (!computed_here(a, p)) return 0;
    if (is_view[a]) return written(g.node(a).args[0], p);
    return s.stage[a];
  };
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    const Phase p = s.phase[id];
    if (ir::op_family(node.op) == ir::OpFamily::Leaf || s.folded[id]) continue;
    int stage = 0;
    if (is_product(node.op)) {
      // A product runs at the start of its stage: everything it reads must be complete before.
      for (NodeId a : node.args) stage = std::max(stage, written(a, p) + 1);
      stage = std::max(stage, 1);
    } else if (node.op == Op::slice) {
      is_view[id] = true;
      stage = written(node.args[0], p);
    } else {
      // Elementwise nodes and assemblies (concat, pad) run after the products of their stage. A
      // product's result is readable in its own stage; a value of the same fused group is in a
      // register; anything else must be complete, i.e. written in an earlier stage.
      for (NodeId a : node.args) {
        if (!computed_here(a, p)) continue;
        const Node& an = g.node(a);
        // Only a value of the same loop (width and kind: a shared value is computed once, by one
        // thread, in a loop of its own) can be read from a register.
        const bool fusable = fuse && !is_buffer_op(node.op) && !is_product(an.op) && !is_row_reduction(an.op) &&
                             !is_buffer_op(an.op) && !is_view[a] && loop_of(a) == loop_of(id);
        const int ready = is_product(an.op) ? s.stage[a] : fusable ? s.stage[a] : written(a, p) + 1;
        stage = std::max(stage, ready);
      }
      stage = std::max(stage, 1);
    }
    s.stage[id] = stage;
  }

  // A product that only adds into its result over the steps (nothing in the loop reads it) runs
  // with the last products of its phase, behind the same barrier, instead of adding a stage.
  std::map<int, int> last_product_stage;
  for (NodeId id = 0; id < n; ++id)
    if (is_product(g.node(id).op) && !s.accumulate[id]) {
      int& last = last_product_stage[static_cast<int>(s.phase[id])];
      last = std::max(last, s.stage[id]);
    }
  for (NodeId id = 0; id < n; ++id)
    if (is_product(g.node(id).op) && s.accumulate[id])
      s.stage[id] = std::max(s.stage[id], last_product_stage[static_cast<int>(s.phase[id])]);

  // Elementwise work runs as late as its users allow: a node whose every user is elementwise work
  // of its loop moves to the earliest of their stages, into their group, and is computed in
  // registers there instead of being stored by a loop of its own and read back (an LSTM's x-part
  // of the gates, W x + b, is ready before the recurrent GEMM but is needed only after it).
  if (fuse) {
    std::vector<std::vector<NodeId>> users(n);
    for (NodeId id = 0; id < n; ++id)
      for (NodeId a : g.node(id).args) users[a].push_back(id);
    std::vector<bool> result(n, false);
    for (const ir::Output& o : g.outputs()) result[o.node] = true;
    auto movable = [&](NodeId id) {
      const Node& node = g.node(id);
      return ir::op_family(node.op) != ir::OpFamily::Leaf && !s.folded[id] && !is_product(node.op) &&
             !is_buffer_op(node.op) && !is_view[id] && !is_row_reduction(node.op) && !result[id];
    };
    for (NodeId id = static_cast<NodeId>(n); id-- > 0;) {
      if (!movable(id) || users[id].empty()) continue;
      int earliest = -1;
      bool all_fusable = true;
      for (NodeId u : users[id]) {
        const Node& user = g.node(u);
        all_fusable = all_fusable && s.phase[u] == s.phase[id] && !is_product(user.op) && !is_buffer_op(user.op) &&
                      !is_view[u] && !s.folded[u] && loop_of(u) == loop_of(id);
        earliest = earliest < 0 ? s.stage[u] : std::min(earliest, s.stage[u]);
      }
      if (all_fusable && earliest > s.stage[id]) s.stage[id] = earliest;
    }
  }

  // Materialization: read outside the group (or as a result).
  auto group_key = [&](NodeId id) {
    return std::make_tuple(static_cast<int>(s.phase[id]), s.stage[id], loop_of(id));
  };
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (ir::op_family(node.op) == ir::OpFamily::Leaf || s.folded[id]) continue;
    if (is_product(node.op) || is_buffer_op(node.op)) s.materialized[id] = true;
    for (NodeId a : node.args) {
      if (ir::op_family(g.node(a).op) == ir::OpFamily::Leaf || s.folded[a] || is_view[a]) continue;
      bool elementwise_user = !is_product(node.op) && !is_buffer_op(node.op) && node.op != Op::slice;
      if (!fuse || !elementwise_user || s.phase[a] != s.phase[id] || group_key(a) != group_key(id) ||
          is_row_reduction(g.node(a).op))
        s.materialized[a] = true;
    }
  }
  for (const ir::Output& o : g.outputs())
    if (!s.folded[o.node] && ir::op_family(g.node(o.node).op) != ir::OpFamily::Leaf && !is_view[o.node])
      s.materialized[o.node] = true;
  // A slice that is read or written as a result needs its operand in memory.
  for (NodeId id = 0; id < n; ++id)
    if (is_view[id]) {
      NodeId a = g.node(id).args[0];
      if (ir::op_family(g.node(a).op) != ir::OpFamily::Leaf && !s.folded[a]) s.materialized[a] = true;
    }

  // Products and groups, in (phase, stage) order.
  for (NodeId id = 0; id < n; ++id)
    if (is_product(g.node(id).op)) s.products.push_back({s.phase[id], s.stage[id], id});
  std::map<std::tuple<int, int, std::string>, size_t> index;
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (ir::op_family(node.op) == ir::OpFamily::Leaf || s.folded[id] || is_product(node.op) || is_view[id] ||
        is_buffer_op(node.op))
      continue;
    auto key = group_key(id);
    if (!fuse) key = std::make_tuple(std::get<0>(key), std::get<1>(key), "#" + std::to_string(id));
    auto it = index.find(key);
    if (it == index.end()) {
      index[key] = s.groups.size();
      s.groups.push_back({s.phase[id], s.stage[id], width_of(id), g.type(id).shared, g.type(id).cols, {id}, {}});
    } else {
      s.groups[it->second].nodes.push_back(id);
    }
  }
  auto order = [](const auto& a, const auto& b) {
    return std::make_tuple(static_cast<int>(a.phase), a.stage) < std::make_tuple(static_cast<int>(b.phase), b.stage);
  };
  std::stable_sort(s.products.begin(), s.products.end(), order);
  std::stable_sort(s.groups.begin(), s.groups.end(), order);
}

}  // namespace cellforge::passes
