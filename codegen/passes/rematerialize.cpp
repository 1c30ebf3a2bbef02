// rematerialize: values computed again where a later fused loop reads them, instead of stored by
// the loop that makes them and read back.
//
// fuse_elementwise stores a value when a loop of a later stage reads it. Row reductions cause most
// of these: a layer norm's backward needs x - mean before its row sums (one loop) and after them
// (the next loop), so the first loop stores x - mean, a whole row-vector per row and step, and the
// second reads it back. When such a value is a few cheap operations (add, sub, mul, neg) away from
// values that are in memory anyway (saved forward values, parameters, stored products, per-row
// scalars such as the mean), the later loop computes it again in registers. The store disappears;
// the reads do not grow: the recomputation may read at most one row-vector its loop did not read
// yet, in place of the value's own read.
//
// A value keeps its buffer when anything else needs it there: a result, a product, a slice or
// concatenation, a loop of another width or phase. The recomputed nodes of a loop are listed in
// its FusionGroup::recomputed; the lowering computes them first, in registers, and stores none of
// them (the loop that owns a node stores it when it is still materialized). Recomputing runs the
// same instructions on the same inputs, so the values are bitwise the ones that would have been
// read back.
#include <algorithm>
#include <functional>
#include <set>

#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Node;
using ir::NodeId;
using ir::Op;

namespace {

// At most this many operations are recomputed per value and loop.
constexpr size_t kMaxRecomputedOps = 4;

bool is_cheap(Op op) {
  return op == Op::add || op == Op::sub || op == Op::mul || op == Op::neg || op == Op::stop_gradient ||
         op == Op::broadcast || op == Op::batch_broadcast;
}

bool same_loop(const FusionGroup& a, const FusionGroup& b) {
  return a.phase == b.phase && a.width == b.width && a.shared == b.shared && a.cols == b.cols;
}

}  // namespace

void rematerialize(ScanSchedule& s, bool enable) {
  for (FusionGroup& group : s.groups) group.recomputed.clear();
  if (!enable) return;
  const ir::Graph& g = s.graph;
  const size_t n = g.size();

  std::vector<int> group_of(n, -1);
  for (size_t k = 0; k < s.groups.size(); ++k)
    for (NodeId id : s.groups[k].nodes) group_of[id] = static_cast<int>(k);
  std::vector<std::vector<NodeId>> users(n);
  for (NodeId id = 0; id < n; ++id)
    for (NodeId a : g.node(id).args) users[a].push_back(id);
  std::vector<bool> result(n, false);
  for (const ir::Output& o : g.outputs()) result[o.node] = true;

  // What each loop reads from memory, and what it computes again.
  std::vector<std::set<NodeId>> reads(s.groups.size()), recomputed(s.groups.size());
  for (size_t k = 0; k < s.groups.size(); ++k)
    for (NodeId id : s.groups[k].nodes)
      for (NodeId a : g.node(id).args)
        if (group_of[a] != static_cast<int>(k)) reads[k].insert(a);

  // In memory whatever this pass decides: leaves, folded constants, views (their operand is
  // stored), and values still materialized (decided already: operands come before their users).
  auto in_memory = [&](NodeId b) {
    return ir::op_family(g.node(b).op) == ir::OpFamily::Leaf || s.folded[b] || g.node(b).op == Op::slice ||
           s.materialized[b];
  };
  // A row-vector read: one float per feature and row (not a shared value, not a per-row scalar).
  auto row_vector = [&](NodeId b) { return !g.type(b).shared && !s.folded[b] && !g.type(b).rows.is_constant(1); };

  // Adds to `cone` the nodes loop k must compute to have `v` in a register, and to `new_reads` the
  // row-vectors it must read for them that it does not read yet; false if that is too much.
  std::function<bool(NodeId, size_t, std::set<NodeId>&, std::set<NodeId>&)> gather =
      [&](NodeId v, size_t k, std::set<NodeId>& cone, std::set<NodeId>& new_reads) {
        if (cone.count(v) || recomputed[k].count(v)) return true;
        // A node of loop k itself comes after the recomputed ones in it: not available to them.
        if (group_of[v] == static_cast<int>(k)) return false;
        const Node& node = g.node(v);
        if (!is_cheap(node.op) || g.type(v).shared || s.phase[v] != s.groups[k].phase || group_of[v] < 0 ||
            !same_loop(s.groups[group_of[v]], s.groups[k]))
          return false;
        cone.insert(v);
        if (cone.size() > kMaxRecomputedOps) return false;
        for (NodeId b : node.args) {
          if (in_memory(b)) {
            if (row_vector(b) && !reads[k].count(b)) new_reads.insert(b);
          } else if (!gather(b, k, cone, new_reads)) {
            return false;
          }
        }
        return true;
      };

  for (NodeId a = 0; a < n; ++a) {
    const int home = group_of[a];
    if (home < 0 || !s.materialized[a] || result[a] || !is_cheap(g.node(a).op)) continue;
    // Every reader must be a fused loop of the same rows and width; those other than a's own are
    // the loops that would compute it again.
    std::set<size_t> readers;
    bool only_loops = true;
    for (NodeId u : users[a]) {
      const int k = group_of[u];
      only_loops = only_loops && k >= 0 && same_loop(s.groups[k], s.groups[home]);
      if (k >= 0 && k != home) readers.insert(static_cast<size_t>(k));
    }
    if (!only_loops || readers.empty()) continue;
    struct Plan {
      size_t loop;
      std::set<NodeId> cone, new_reads;
    };
    std::vector<Plan> plans;
    bool affordable = true;
    for (size_t k : readers) {
      Plan plan{k, {}, {}};
      affordable = affordable && gather(a, k, plan.cone, plan.new_reads) && plan.new_reads.size() <= 1;
      plans.push_back(std::move(plan));
    }
    if (!affordable) continue;
    for (const auto& [k, cone, new_reads] : plans) {
      recomputed[k].insert(cone.begin(), cone.end());
      reads[k].insert(new_reads.begin(), new_reads.end());
      for (NodeId c : cone) reads[k].erase(c);
    }
    s.materialized[a] = false;
  }
  // Ids are in dependency order, so sorted lists compute operands first.
  for (size_t k = 0; k < s.groups.size(); ++k)
    s.groups[k].recomputed.assign(recomputed[k].begin(), recomputed[k].end());
}

}  // namespace cellforge::passes
