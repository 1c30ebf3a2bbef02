// mask_padded_steps: sequences of different lengths in one batch, without packing.
//
// The cell gets one more input, the step mask m (1 on a sequence's real steps, 0 on the padding
// after it), and its results are rewritten so that a padded step changes nothing:
//
//   next s = m * s_new + (1 - m) * s      (the state is carried through the padding unchanged)
//   y      = m * y_new                    (the output is zero on padding)
//
// With m exactly 0 or 1 both are exact in floating point (1*a + 0*b = a, 0*a + 1*b = b for finite
// values). The final states are therefore each sequence's state at its own last step, the backward
// direction of a bidirectional layer starts at each sequence's own end, and differentiating the
// rewritten cell gives padded steps zero gradient for everything but the carried state. The mask
// is read through stop_gradient: nothing is differentiated with respect to it.
#include "codegen/ir/error.hpp"
#include "codegen/ir/network_spec.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::NodeId;
using ir::Op;
using ir::Role;

ir::Graph mask_padded_steps(const ir::Graph& cell) {
  if (cell.find_leaf(Op::input, ir::kStepMask) >= 0)
    internal_error("cell '", cell.name(), "' already reads a step mask");
  const ir::Graph& g = cell;
  std::vector<NodeId> map;
  ir::Graph out = ir::copy_without_results(g, map);
  const NodeId mask = out.unary(Op::stop_gradient, out.input(ir::kStepMask, ir::Dim::constant(1)));
  const NodeId keep = out.sub(out.constant(1.0), mask);
  for (const ir::Output& o : g.outputs()) {
    const NodeId value = map[o.node];
    if (o.role == Role::next) {
      const NodeId old = static_cast<NodeId>(out.find_leaf(Op::state, o.name));
      out.add_output(o.role, o.name, out.add(out.mul(mask, value), out.mul(keep, old)));
    } else if (o.role == Role::output) {
      out.add_output(o.role, o.name, out.mul(mask, value));
    } else {
      internal_error("mask_padded_steps: a cell has only next and output results");
    }
  }
  return out;
}

}  // namespace cellforge::passes
