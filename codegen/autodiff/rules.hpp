// The derivative rules, one entry per op of ops.def (rules.cpp). A rule sees the node being
// differentiated through a small context with the arithmetic it needs, so that each rule is one to
// three lines and reads like the math beside it.
#pragma once

#include <optional>
#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::autodiff {

/// What a reverse-mode rule sees: the node y = op(a, b, ...), its adjoint g = dL/dy, and a way to
/// send a contribution to the adjoint of each operand.
class ReverseContext {
 public:
  ReverseContext(ir::Graph& graph, ir::NodeId self, ir::NodeId adjoint, std::vector<ir::NodeId>* contributions)
      : graph_(graph), self_(self), adjoint_(adjoint), contributions_(contributions) {}

  ir::NodeId y() const { return self_; }
  ir::NodeId g() const { return adjoint_; }
  ir::NodeId a(size_t i = 0) const { return graph_.node(self_).args.at(i); }
  const ir::Node& node() const { return graph_.node(self_); }
  size_t arity() const { return graph_.node(self_).args.size(); }
  /// Adds `value` to the adjoint of operand i.
  void to(size_t i, ir::NodeId value) { contributions_->at(i) = value; }

  ir::Graph& graph() { return graph_; }
  ir::NodeId k(double v) { return graph_.constant(v); }
  ir::NodeId add(ir::NodeId p, ir::NodeId q) { return graph_.add(p, q); }
  ir::NodeId sub(ir::NodeId p, ir::NodeId q) { return graph_.sub(p, q); }
  ir::NodeId mul(ir::NodeId p, ir::NodeId q) { return graph_.mul(p, q); }
  ir::NodeId div(ir::NodeId p, ir::NodeId q) { return graph_.div(p, q); }
  ir::NodeId neg(ir::NodeId p) { return graph_.unary(ir::Op::neg, p); }
  ir::NodeId fn(ir::Op op, ir::NodeId p) { return graph_.unary(op, p); }

 private:
  ir::Graph& graph_;
  ir::NodeId self_;
  ir::NodeId adjoint_;
  std::vector<ir::NodeId>* contributions_;
};

/// What a forward-mode rule sees: the node y = op(a, b, ...) and the tangents of its operands
/// (absent for operands that do not vary). It returns the tangent of y, or nothing if y does not vary.
class ForwardContext {
 public:
  ForwardContext(ir::Graph& graph, ir::NodeId self, std::vector<std::optional<ir::NodeId>> tangents)
      : graph_(graph), self_(self), tangents_(std::move(tangents)) {}

  ir::NodeId y() const { return self_; }
  ir::NodeId a(size_t i = 0) const { return graph_.node(self_).args.at(i); }
  const ir::Node& node() const { return graph_.node(self_); }
  bool varies(size_t i) const { return tangents_.at(i).has_value(); }
  const std::optional<ir::NodeId>& t(size_t i) const { return tangents_.at(i); }
  size_t arity() const { return tangents_.size(); }

  ir::Graph& graph() { return graph_; }
  ir::NodeId k(double v) { return graph_.constant(v); }
  ir::NodeId mul(ir::NodeId p, ir::NodeId q) { return graph_.mul(p, q); }
  ir::NodeId div(ir::NodeId p, ir::NodeId q) { return graph_.div(p, q); }
  ir::NodeId sub(ir::NodeId p, ir::NodeId q) { return graph_.sub(p, q); }
  ir::NodeId neg(ir::NodeId p) { return graph_.unary(ir::Op::neg, p); }
  ir::NodeId fn(ir::Op op, ir::NodeId p) { return graph_.unary(op, p); }
  /// p + q where either may be absent (zero).
  std::optional<ir::NodeId> sum(std::optional<ir::NodeId> p, std::optional<ir::NodeId> q);

 private:
  ir::Graph& graph_;
  ir::NodeId self_;
  std::vector<std::optional<ir::NodeId>> tangents_;
};

struct Rule {
  void (*reverse)(ReverseContext&);
  std::optional<ir::NodeId> (*forward)(ForwardContext&);
  /// False for ops whose result is constant almost everywhere (step) or cuts the gradient
  /// (stop_gradient): nothing flows back through them.
  bool differentiable = true;
};

/// The rule of `op`. Leaves have no rule (reverse/forward are null).
const Rule& rule(ir::Op op);

/// The number of sizes `n` as a graph value: sum of a constant vector of ones of length n. Used
/// where a rule needs 1/n of a symbolic size (mean).
ir::NodeId count_of(ir::Graph& graph, const ir::Dim& n);

/// sum(v) over the features of a row, leaving out the terms of v whose sum is zero by algebra: a
/// centered value a - mean(a), and per-row multiples, negations, sums and differences of such
/// values. The adjoint of a centered value's mean is such a sum, and its centered terms (from the
/// variance of a layer norm) cancel exactly; left in, they would cost BPTT one more pass over the
/// vector per step (the sum of dL/dv would wait for the sum that scales them).
ir::NodeId sum_features(ir::Graph& graph, ir::NodeId v);

}  // namespace cellforge::autodiff
