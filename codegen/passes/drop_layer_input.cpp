// drop_layer_input: dropout between stacked layers.
//
// The cell's input x is replaced everywhere by x * d, where d is a new input (the dropout mask,
// drawn per call: each feature 0 with probability p, else 1/(1-p)). Differentiating the rewritten
// cell gives dL/dx = d * dL/d(x*d): dropped features pass no gradient down. The mask is read
// through stop_gradient: nothing is differentiated with respect to it.
#include "codegen/ir/error.hpp"
#include "codegen/ir/network_spec.hpp"
#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::NodeId;
using ir::Op;

ir::Graph drop_layer_input(const ir::Graph& cell) {
  const std::string x_name = ir::input_name(cell);
  if (cell.find_leaf(Op::input, ir::kDropoutMask) >= 0)
    internal_error("cell '", cell.name(), "' already reads a dropout mask");
  return ir::rewrite(cell, [&](ir::RewriteStep& s) -> NodeId {
    NodeId built = ir::copy_node(s);
    if (s.node.op != Op::input || s.node.name != x_name) return built;
    NodeId mask = s.out.unary(Op::stop_gradient, s.out.input(ir::kDropoutMask, s.node.type.rows));
    return s.out.mul(built, mask);
  });
}

}  // namespace cellforge::passes
