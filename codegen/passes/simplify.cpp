// simplify: algebraic clean-up after differentiation.
//
// Derivative rules are written for clarity, not economy: the adjoint of an add is passed on as it
// is, a sum of one contribution is that contribution, 1*x appears where a rule multiplies by a
// derivative that is one. This pass removes the identities (x*1, 1*x, x+0, 0+x, x-0, x/1, -(-x))
// and folds arithmetic on constants, never changing the type of a value (a rewrite that would turn
// a per-row value into a shared one, or change its length, is not applied). An explicit broadcast
// of a length-1 value into an elementwise op is dropped: the op broadcasts it anyway (the
// derivative of mean gives broadcast(g/n, n) * ...). stop_gradient is the identity once the graph
// has been differentiated, so it goes: it would otherwise be a copy (of a zoneout mask, say, hoisted
// out of the time loop into a buffer of its own).
#include <cmath>

#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Node;
using ir::NodeId;
using ir::Op;

namespace {

bool is_constant(const ir::Graph& g, NodeId id, double value) {
  const Node& n = g.node(id);
  return n.op == Op::constant && n.value == value;
}

double fold(Op op, double a, double b) {
  switch (op) {
    case Op::add: return a + b;
    case Op::sub: return a - b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    case Op::neg: return -a;
    default: return NAN;
  }
}

}  // namespace

ir::Graph simplify(const ir::Graph& graph) {
  return ir::rewrite(graph, [](ir::RewriteStep& s) -> NodeId {
    ir::Graph& g = s.out;
    const Node& n = s.node;
    // op(broadcast(s), v) = op(s, v) when v has the broadcast's length.
    if (n.op == Op::add || n.op == Op::sub || n.op == Op::mul || n.op == Op::div) {
      ir::Node unbroadcast = n;
      for (size_t i = 0; i < 2; ++i) {
        const ir::Node& a = g.node(unbroadcast.args[i]);
        if (a.op == Op::broadcast && g.type(unbroadcast.args[1 - i]).rows == a.type.rows &&
            !g.type(unbroadcast.args[1 - i]).is_matrix())
          unbroadcast.args[i] = a.args[0];
      }
      if (unbroadcast.args != n.args) {
        NodeId candidate = g.make(unbroadcast);
        if (g.type(candidate) == g.type(g.make(n))) return candidate;
      }
    }
    NodeId built = g.make(n);
    const ir::Type type = g.type(built);
    auto same_type = [&](NodeId id) { return g.type(id) == type; };
    auto replace_by = [&](NodeId id) { return same_type(id) ? id : built; };
    switch (n.op) {
      case Op::add:
        if (is_constant(g, n.args[1], 0)) return replace_by(n.args[0]);
        if (is_constant(g, n.args[0], 0)) return replace_by(n.args[1]);
        break;
      case Op::sub:
        if (is_constant(g, n.args[1], 0)) return replace_by(n.args[0]);
        break;
      case Op::mul:
        if (is_constant(g, n.args[1], 1)) return replace_by(n.args[0]);
        if (is_constant(g, n.args[0], 1)) return replace_by(n.args[1]);
        break;
      case Op::div:
        if (is_constant(g, n.args[1], 1)) return replace_by(n.args[0]);
        break;
      case Op::neg:
        if (g.node(n.args[0]).op == Op::neg) return replace_by(g.node(n.args[0]).args[0]);
        break;
      case Op::stop_gradient:
        return replace_by(n.args[0]);
      default:
        break;
    }
    // Arithmetic on constants of the same length folds to a constant.
    if (ir::is_arithmetic(n.op)) {
      bool all_constant = true;
      for (NodeId a : n.args) all_constant = all_constant && g.node(a).op == Op::constant;
      if (all_constant) {
        double a = g.node(n.args[0]).value;
        double b = n.args.size() > 1 ? g.node(n.args[1]).value : 0;
        NodeId c = g.constant(fold(n.op, a, b), type.rows);
        if (same_type(c)) return c;
      }
    }
    return built;
  });
}

}  // namespace cellforge::passes
