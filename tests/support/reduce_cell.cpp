// Cell reduction; see reduce_cell.hpp.
#include "support/reduce_cell.hpp"

#include "codegen/ir/error.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/ir/verify.hpp"

namespace cellforge::testing {

namespace {

// The cell with node `target` replaced by `replacement` (an id in the source graph).
bool replaced(const ir::Graph& cell, ir::NodeId target, ir::NodeId replacement, ir::Graph* out) {
  try {
    ir::Graph r(cell.name());
    std::vector<ir::NodeId> m(cell.size(), static_cast<ir::NodeId>(-1));
    for (ir::NodeId id = 0; id < cell.size(); ++id) {
      if (id == target) continue;
      ir::Node n = cell.node(id);
      for (ir::NodeId& a : n.args) a = a == target ? m[replacement] : m[a];
      m[id] = r.make(n);
      if (!cell.label(id).empty()) r.set_label(m[id], cell.label(id));
    }
    m[target] = m[replacement];
    for (const ir::Output& o : cell.outputs()) r.add_output(o.role, o.name, m[o.node]);
    *out = ir::prune(r, /*drop_unused_leaves=*/true);
    ir::verify_cell(*out);
    return true;
  } catch (const UserError&) {
    return false;
  } catch (const InternalError&) {
    return false;
  }
}

}  // namespace

ir::Graph reduce_cell(const ir::Graph& cell, const std::function<bool(const ir::Graph&)>& fails) {
  ir::Graph best = cell;
  for (bool progress = true; progress;) {
    progress = false;
    for (ir::NodeId target = static_cast<ir::NodeId>(best.size()); target-- > 0 && !progress;) {
      const ir::Node& n = best.node(target);
      if (ir::op_family(n.op) == ir::OpFamily::Leaf && n.op != ir::Op::constant) continue;
      // Candidates: operands of the same type first, then any earlier node of the same type.
      std::vector<ir::NodeId> candidates;
      for (ir::NodeId a : n.args)
        if (best.type(a) == n.type) candidates.push_back(a);
      for (ir::NodeId other = 0; other < target; ++other)
        if (best.type(other) == n.type) candidates.push_back(other);
      for (ir::NodeId c : candidates) {
        ir::Graph smaller;
        if (replaced(best, target, c, &smaller) && smaller.size() < best.size() && fails(smaller)) {
          best = std::move(smaller);
          progress = true;
          break;
        }
      }
    }
  }
  return best;
}

}  // namespace cellforge::testing
