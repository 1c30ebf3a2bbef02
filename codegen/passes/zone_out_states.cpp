// zone_out_states: zoneout (Krueger et al. 2016) on some of a cell's states.
//
// For each zoned state s the cell gets one more input, the zoneout mask d_s (per element and step:
// 1 keeps the previous value, 0 takes the new one), and its next value becomes
//
//   next s = d_s * s + (1 - d_s) * s_new
//
// An output that is the same value as a zoned next state (an LSTM's or GRU's h) is the zoned value
// too, as in the paper: what the layer above and the loss see is the state the next step reads.
// In training each d_s is 1 with the zoneout probability; in evaluation it is that probability
// itself, so the same code computes the expectation. With d exactly 0 or 1 the blend is exact for
// finite values (1*a + 0*b = a; a new value that is Inf or NaN poisons it even where d = 1). Differentiating the rewritten cell sends d_s times the state's gradient straight to
// the previous step and (1 - d_s) times it through the cell. The mask is read through
// stop_gradient: nothing is differentiated with respect to it.
#include <map>

#include "codegen/ir/error.hpp"
#include "codegen/ir/network_spec.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::NodeId;
using ir::Op;
using ir::Role;

ir::Graph zone_out_states(const ir::Graph& cell, const std::vector<std::string>& states) {
  const ir::Graph& g = cell;
  std::vector<NodeId> map;
  ir::Graph out = ir::copy_without_results(g, map);
  // The zoned value of each zoned state's next result, and the node of its unzoned value.
  std::map<std::string, std::pair<NodeId, NodeId>> zoned;
  for (const std::string& name : states) {
    const int64_t leaf = g.find_leaf(Op::state, name);
    const ir::Output* next = g.find_output(Role::next, name);
    if (leaf < 0 || !next) internal_error("zone_out_states: cell '", cell.name(), "' has no state '", name, "'");
    const std::string mask_name = ir::zoneout_mask_name(name);
    if (g.find_leaf(Op::input, mask_name) >= 0)
      internal_error("cell '", cell.name(), "' already reads a zoneout mask for '", name, "'");
    const ir::Dim& rows = g.type(static_cast<NodeId>(leaf)).rows;
    const NodeId mask = out.unary(Op::stop_gradient, out.input(mask_name, rows));
    const NodeId take = out.sub(out.constant(1.0), mask);
    zoned[name] = {next->node, out.add(out.mul(mask, map[static_cast<NodeId>(leaf)]), out.mul(take, map[next->node]))};
  }
  for (const ir::Output& o : g.outputs()) {
    NodeId value = map[o.node];
    if (o.role == Role::next) {
      if (auto it = zoned.find(o.name); it != zoned.end()) value = it->second.second;
    } else if (o.role == Role::output) {
      for (const std::string& name : states)  // the first zoned state the output is, in the order given
        if (zoned.at(name).first == o.node) {
          value = zoned.at(name).second;
          break;
        }
    } else {
      internal_error("zone_out_states: a cell has only next and output results");
    }
    out.add_output(o.role, o.name, value);
  }
  return out;
}

}  // namespace cellforge::passes
