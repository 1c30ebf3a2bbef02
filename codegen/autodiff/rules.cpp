// The derivative rules: one entry per op, reverse mode first, forward mode second, the math in the
// comment beside it. y is the node, g its adjoint dL/dy, a and b its operands, ta and tb their
// tangents. Contributions to an operand of another shape (a length-1 or a shared operand that was
// broadcast) are reduced back to the operand's shape by the reverse sweep, not by the rules.
#include "codegen/autodiff/rules.hpp"

#include <array>

#include "codegen/ir/error.hpp"

namespace cellforge::autodiff {

using ir::NodeId;
using ir::Op;
using Tangent = std::optional<NodeId>;

std::optional<NodeId> ForwardContext::sum(std::optional<NodeId> p, std::optional<NodeId> q) {
  if (!p) return q;
  if (!q) return p;
  return graph_.add(*p, *q);
}

NodeId count_of(ir::Graph& graph, const ir::Dim& n) {
  return graph.reduce(Op::sum, graph.constant(1.0, n));
}

namespace {

// A length-1 value, or one broadcast along the features (as the adjoint of a mean is).
bool is_row_factor(const ir::Graph& graph, NodeId v) {
  const ir::Node& n = graph.node(v);
  return graph.type(v).is_scalar() || (n.op == Op::broadcast && graph.type(n.args[0]).is_scalar());
}

// Whether the features of v sum to zero whatever the values: see sum_features.
bool sums_to_zero(const ir::Graph& graph, NodeId v) {
  const ir::Node& n = graph.node(v);
  if (graph.type(v).is_matrix() || graph.type(v).is_scalar()) return false;
  switch (n.op) {
    case Op::sub: {
      const ir::Node& subtrahend = graph.node(n.args[1]);
      if (subtrahend.op == Op::mean && subtrahend.args[0] == n.args[0]) return true;  // a - mean(a)
      return sums_to_zero(graph, n.args[0]) && sums_to_zero(graph, n.args[1]);
    }
    case Op::add: return sums_to_zero(graph, n.args[0]) && sums_to_zero(graph, n.args[1]);
    case Op::neg: return sums_to_zero(graph, n.args[0]);
    case Op::mul:
      return (is_row_factor(graph, n.args[0]) && sums_to_zero(graph, n.args[1])) ||
             (is_row_factor(graph, n.args[1]) && sums_to_zero(graph, n.args[0]));
    case Op::div: return is_row_factor(graph, n.args[1]) && sums_to_zero(graph, n.args[0]);
    default: return false;
  }
}

}  // namespace

NodeId sum_features(ir::Graph& graph, NodeId v) {
  const ir::Node n = graph.node(v);
  const ir::Dim length = graph.type(v).rows;
  auto full_length = [&](NodeId a) { return graph.type(a).rows == length; };
  if (n.op == Op::neg) return graph.unary(Op::neg, sum_features(graph, n.args[0]));
  if ((n.op == Op::add || n.op == Op::sub) && full_length(n.args[0]) && sums_to_zero(graph, n.args[1]))
    return sum_features(graph, n.args[0]);
  if (n.op == Op::add && full_length(n.args[1]) && sums_to_zero(graph, n.args[0]))
    return sum_features(graph, n.args[1]);
  return graph.reduce(Op::sum, v);
}

namespace {

using R = ReverseContext;
using F = ForwardContext;

// Applies a forward rule only when the (single) operand varies.
#define UNARY_TANGENT(expression) \
  [](F& c) -> Tangent { return c.varies(0) ? Tangent(expression) : std::nullopt; }

std::array<Rule, ir::kNumOps> make_table() {
  std::array<Rule, ir::kNumOps> t{};
  auto set = [&](Op op, Rule r) { t[static_cast<size_t>(op)] = r; };

  // d(-a) = -da
  set(Op::neg, {[](R& c) { c.to(0, c.neg(c.g())); }, UNARY_TANGENT(c.neg(*c.t(0)))});
  // d sigmoid(a) = y (1 - y) da
  set(Op::sigmoid, {[](R& c) { c.to(0, c.mul(c.g(), c.mul(c.y(), c.sub(c.k(1), c.y())))); },
                    UNARY_TANGENT(c.mul(*c.t(0), c.mul(c.y(), c.sub(c.k(1), c.y()))))});
  // d tanh(a) = (1 - y^2) da
  set(Op::tanh, {[](R& c) { c.to(0, c.mul(c.g(), c.sub(c.k(1), c.mul(c.y(), c.y())))); },
                 UNARY_TANGENT(c.mul(*c.t(0), c.sub(c.k(1), c.mul(c.y(), c.y()))))});
  // d relu(a) = step(a) da   (the subgradient at a = 0 is 0)
  set(Op::relu, {[](R& c) { c.to(0, c.mul(c.g(), c.fn(Op::step, c.a()))); },
                 UNARY_TANGENT(c.mul(*c.t(0), c.fn(Op::step, c.a())))});
  // d step(a) = 0 almost everywhere
  set(Op::step, {[](R&) {}, [](F&) -> Tangent { return std::nullopt; }, false});
  // d exp(a) = y da
  set(Op::exp, {[](R& c) { c.to(0, c.mul(c.g(), c.y())); }, UNARY_TANGENT(c.mul(*c.t(0), c.y()))});
  // d log(a) = da / a
  set(Op::log, {[](R& c) { c.to(0, c.div(c.g(), c.a())); }, UNARY_TANGENT(c.div(*c.t(0), c.a()))});
  // d sqrt(a) = da / (2 y)
  set(Op::sqrt, {[](R& c) { c.to(0, c.div(c.g(), c.mul(c.k(2), c.y()))); },
                 UNARY_TANGENT(c.div(*c.t(0), c.mul(c.k(2), c.y())))});
  // d a^(-1/2) = -1/2 y^3 da
  set(Op::rsqrt, {[](R& c) { c.to(0, c.mul(c.g(), c.mul(c.k(-0.5), c.mul(c.y(), c.mul(c.y(), c.y()))))); },
                  UNARY_TANGENT(c.mul(*c.t(0), c.mul(c.k(-0.5), c.mul(c.y(), c.mul(c.y(), c.y())))))});
  // stop_gradient: nothing flows back
  set(Op::stop_gradient, {[](R&) {}, [](F&) -> Tangent { return std::nullopt; }, false});

  // d(a + b) = da + db
  set(Op::add, {[](R& c) { c.to(0, c.g()); c.to(1, c.g()); },
                [](F& c) { return c.sum(c.t(0), c.t(1)); }});
  // d(a - b) = da - db
  set(Op::sub, {[](R& c) { c.to(0, c.g()); c.to(1, c.neg(c.g())); },
                [](F& c) { return c.sum(c.t(0), c.t(1) ? Tangent(c.neg(*c.t(1))) : std::nullopt); }});
  // d(a b) = b da + a db
  set(Op::mul, {[](R& c) { c.to(0, c.mul(c.g(), c.a(1))); c.to(1, c.mul(c.g(), c.a(0))); },
                [](F& c) {
                  return c.sum(c.t(0) ? Tangent(c.mul(*c.t(0), c.a(1))) : std::nullopt,
                               c.t(1) ? Tangent(c.mul(c.a(0), *c.t(1))) : std::nullopt);
                }});
  // d(a / b) = da / b - y db / b
  set(Op::div, {[](R& c) { c.to(0, c.div(c.g(), c.a(1))); c.to(1, c.neg(c.div(c.mul(c.g(), c.y()), c.a(1)))); },
                [](F& c) {
                  return c.sum(c.t(0) ? Tangent(c.div(*c.t(0), c.a(1))) : std::nullopt,
                               c.t(1) ? Tangent(c.neg(c.div(c.mul(*c.t(1), c.y()), c.a(1)))) : std::nullopt);
                }});

  // y = W v:  dv = W^T g,  dW = sum_rows g v^T
  set(Op::matmul, {[](R& c) { c.to(1, c.graph().matmul_t(c.a(0), c.g())); c.to(0, c.graph().outer(c.g(), c.a(1))); },
                   [](F& c) {
                     return c.sum(c.t(1) ? Tangent(c.graph().matmul(c.a(0), *c.t(1))) : std::nullopt,
                                  c.t(0) ? Tangent(c.graph().matmul(*c.t(0), c.a(1))) : std::nullopt);
                   }});
  // y = W^T v:  dv = W g,  dW = sum_rows v g^T
  set(Op::matmul_t, {[](R& c) { c.to(1, c.graph().matmul(c.a(0), c.g())); c.to(0, c.graph().outer(c.a(1), c.g())); },
                     [](F& c) {
                       return c.sum(c.t(1) ? Tangent(c.graph().matmul_t(c.a(0), *c.t(1))) : std::nullopt,
                                    c.t(0) ? Tangent(c.graph().matmul_t(*c.t(0), c.a(1))) : std::nullopt);
                     }});
  // Y = sum_rows a b^T:  da = G b,  db = G^T a
  set(Op::outer, {[](R& c) { c.to(0, c.graph().matmul(c.g(), c.a(1))); c.to(1, c.graph().matmul_t(c.g(), c.a(0))); },
                  [](F& c) {
                    return c.sum(c.t(0) ? Tangent(c.graph().outer(*c.t(0), c.a(1))) : std::nullopt,
                                 c.t(1) ? Tangent(c.graph().outer(c.a(0), *c.t(1))) : std::nullopt);
                  }});

  // y = a[o, o+n):  da = g placed at o (the sweep joins the pieces of a split into one concat)
  set(Op::slice, {[](R& c) { c.to(0, c.graph().pad(c.g(), c.node().offset, c.graph().type(c.a()).rows)); },
                  UNARY_TANGENT(c.graph().slice(*c.t(0), c.node().offset, c.node().type.rows))});
  // y = [a; b; ...]:  da = g[0, |a|),  db = g[|a|, |a|+|b|), ...
  set(Op::concat, {[](R& c) {
                     ir::Dim offset;
                     for (size_t i = 0; i < c.arity(); ++i) {
                       ir::Dim n = c.graph().type(c.a(i)).rows;
                       c.to(i, c.graph().slice(c.g(), offset, n));
                       offset = offset + n;
                     }
                   },
                   [](F& c) -> Tangent {
                     bool any = false;
                     std::vector<NodeId> parts;
                     for (size_t i = 0; i < c.arity(); ++i) {
                       any = any || c.varies(i);
                       parts.push_back(c.varies(i) ? *c.t(i) : c.graph().constant(0.0, c.graph().type(c.a(i)).rows));
                     }
                     return any ? Tangent(c.graph().concat(parts)) : std::nullopt;
                   }});
  // y = a placed at o:  da = g[o, o+|a|)
  set(Op::pad, {[](R& c) { c.to(0, c.graph().slice(c.g(), c.node().offset, c.graph().type(c.a()).rows)); },
                UNARY_TANGENT(c.graph().pad(*c.t(0), c.node().offset, c.node().type.rows))});
  // y = a repeated n times:  da = sum(g)
  set(Op::broadcast, {[](R& c) { c.to(0, c.graph().reduce(Op::sum, c.g())); },
                      UNARY_TANGENT(c.graph().broadcast(*c.t(0), c.node().type.rows))});
  // y = sum_j a_j:  da = g repeated |a| times
  set(Op::sum, {[](R& c) { c.to(0, c.graph().broadcast(c.g(), c.graph().type(c.a()).rows)); },
                UNARY_TANGENT(c.graph().reduce(Op::sum, *c.t(0)))});
  // y = (sum_j a_j) / n:  da = g / n repeated n times
  set(Op::mean, {[](R& c) {
                   ir::Dim n = c.graph().type(c.a()).rows;
                   c.to(0, c.graph().broadcast(c.div(c.g(), count_of(c.graph(), n)), n));
                 },
                 UNARY_TANGENT(c.graph().reduce(Op::mean, *c.t(0)))});
  // y = sum over the batch of a:  da = g for every row
  set(Op::batch_sum, {[](R& c) { c.to(0, c.graph().batch_broadcast(c.g())); },
                      UNARY_TANGENT(c.graph().reduce(Op::batch_sum, *c.t(0)))});
  // y = a for every row:  da = sum over the batch of g
  set(Op::batch_broadcast, {[](R& c) { c.to(0, c.g()); }, UNARY_TANGENT(c.graph().batch_broadcast(*c.t(0)))});
  return t;
}

}  // namespace

const Rule& rule(Op op) {
  static const std::array<Rule, ir::kNumOps> table = make_table();
  const Rule& r = table[static_cast<size_t>(op)];
  if (!r.reverse && ir::op_family(op) != ir::OpFamily::Leaf)
    internal_error("op '", ir::op_name(op), "' has no derivative rule in autodiff/rules.cpp");
  return r;
}

}  // namespace cellforge::autodiff
