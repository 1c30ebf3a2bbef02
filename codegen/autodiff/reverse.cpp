// Reverse-mode differentiation of a step graph (differentiate, state_vjp); see differentiate.hpp.
//
// The sweep copies the forward graph, adds a seed per seeded result, and visits the active nodes in
// reverse order. Each node's adjoint is the sum of the contributions its users sent it; a node that
// was split into pieces (the gates of an LSTM, sliced from one pre-activation vector) gets its
// pieces joined into one concat instead of a sum of zero-padded vectors, so that the backward
// graph has the shape a person would write: dz = [di; df; dg; do].
#include <algorithm>
#include <optional>

#include "codegen/autodiff/activity.hpp"
#include "codegen/autodiff/differentiate.hpp"
#include "codegen/autodiff/rules.hpp"
#include "codegen/ir/error.hpp"

namespace cellforge::autodiff {

using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;
using ir::Role;

std::string seed_name(Role role, const std::string& of) {
  return role == Role::next ? "d" + of + "_next" : "d" + of;
}

namespace {

constexpr NodeId kNone = static_cast<NodeId>(-1);

struct Options {
  bool seed_output = true;                       // seed the cell's output, not only the next states
  std::vector<Op> gradient_leaves = {Op::input, Op::state, Op::param};
  std::string suffix = "_grad";
};

Graph copy_of(const Graph& cell, const std::string& name) {
  Graph g(name);
  for (NodeId id = 0; id < cell.size(); ++id) {
    NodeId copy = g.make(cell.node(id));
    if (copy != id) internal_error("copying graph '", cell.name(), "' changed node ids");
    if (!cell.label(id).empty()) g.set_label(id, cell.label(id));
  }
  return g;
}

class ReverseSweep {
 public:
  ReverseSweep(const Graph& cell, const Options& options)
      : cell_(cell), g_(copy_of(cell, cell.name() + options.suffix)), options_(options) {}

  Graph run() {
    const size_t n = cell_.size();
    std::vector<bool> differentiated(n, false);
    for (NodeId id = 0; id < n; ++id)
      differentiated[id] = std::count(options_.gradient_leaves.begin(), options_.gradient_leaves.end(),
                                      cell_.node(id).op) > 0;
    // Seeds and roots.
    full_.assign(n, {});
    pieces_.assign(n, {});
    std::vector<NodeId> roots;
    for (const ir::Output& o : cell_.outputs()) {
      if (o.role != Role::next && !(o.role == Role::output && options_.seed_output)) continue;
      NodeId seed = g_.seed(seed_name(o.role, o.name), cell_.type(o.node).rows, o.role, o.name);
      full_[o.node].push_back(seed);
      roots.push_back(o.node);
    }
    std::vector<bool> varied = varied_nodes(cell_, differentiated);
    std::vector<bool> useful = useful_nodes(cell_, roots);
    active_.assign(n, false);
    for (NodeId id = 0; id < n; ++id) active_[id] = varied[id] && useful[id];
    std::vector<NodeId> leaf_gradient(n, kNone);

    for (NodeId id = static_cast<NodeId>(n); id-- > 0;) {
      if (!active_[id]) continue;
      NodeId adjoint = accumulate(id);
      if (adjoint == kNone) continue;
      const ir::Node& node = cell_.node(id);
      if (ir::op_family(node.op) == ir::OpFamily::Leaf) {
        leaf_gradient[id] = adjoint;
        g_.set_label(adjoint, "d" + node.name);
        continue;
      }
      if (!cell_.label(id).empty()) g_.set_label(adjoint, "d" + cell_.label(id));
      std::vector<NodeId> contributions(node.args.size(), kNone);
      ReverseContext context(g_, id, adjoint, &contributions);
      rule(node.op).reverse(context);
      for (size_t i = 0; i < node.args.size(); ++i)
        if (contributions[i] != kNone && active_[node.args[i]]) send(node.args[i], contributions[i]);
    }
    // Gradients in the order the leaves were declared.
    for (NodeId id = 0; id < n; ++id)
      if (leaf_gradient[id] != kNone) g_.add_output(Role::grad, cell_.node(id).name, leaf_gradient[id]);
    return std::move(g_);
  }

 private:
  // Reduces a contribution to the shape of its target: a length-1 operand that was broadcast along
  // the features gets the sum over features, a shared operand the sum over the batch.
  NodeId fit(NodeId target, NodeId value) {
    const ir::Type t = g_.type(target);
    if (t.is_scalar() && !g_.type(value).rows.is_constant(1))
      value = sum_features(g_, value);
    if (t.shared && !g_.type(value).shared) value = g_.reduce(Op::batch_sum, value);
    return value;
  }

  void send(NodeId target, NodeId value) {
    const ir::Node v = g_.node(value);
    if (v.op == Op::pad) pieces_[target].push_back({v.offset, fit(target, v.args[0])});
    else full_[target].push_back(fit(target, value));
  }

  // Joins the pieces of `id` into one vector: a concat when they tile it, zeros filling the gaps.
  std::optional<NodeId> join_pieces(NodeId id) {
    auto& pieces = pieces_[id];
    if (pieces.empty()) return std::nullopt;
    const ir::Type type = g_.type(id);
    std::vector<NodeId> parts;
    std::vector<bool> used(pieces.size(), false);
    Dim cursor;
    while (!(cursor == type.rows)) {
      std::optional<size_t> exact, nearest;
      for (size_t k = 0; k < pieces.size(); ++k) {
        if (used[k]) continue;
        Dim gap = pieces[k].first - cursor;
        if (gap.is_zero()) exact = k;
        else if (gap.is_nonnegative() && (!nearest || (pieces[*nearest].first - pieces[k].first).is_nonnegative()))
          nearest = k;
      }
      if (exact) {
        NodeId part = pieces[*exact].second;
        used[*exact] = true;
        // Pieces at the same place with the same length add up.
        for (size_t k = 0; k < pieces.size(); ++k)
          if (!used[k] && pieces[k].first == cursor && g_.type(pieces[k].second).rows == g_.type(part).rows) {
            part = g_.add(part, pieces[k].second);
            used[k] = true;
          }
        parts.push_back(part);
        cursor = cursor + g_.type(part).rows;
      } else {
        Dim gap_end = nearest ? pieces[*nearest].first : type.rows;
        Dim gap = gap_end - cursor;
        if (!gap.is_nonnegative() || gap.is_zero()) break;  // overlapping or unordered pieces
        parts.push_back(g_.constant(0.0, gap));
        cursor = gap_end;
      }
      if (!(type.rows - cursor).is_nonnegative()) break;
    }
    bool tiled = cursor == type.rows && std::all_of(used.begin(), used.end(), [](bool u) { return u; });
    if (tiled) return parts.size() == 1 ? parts[0] : g_.concat(parts);
    // Fallback: a sum of zero-padded pieces.
    std::optional<NodeId> total;
    for (const auto& [offset, value] : pieces) {
      NodeId padded = g_.pad(value, offset, type.rows);
      total = total ? g_.add(*total, padded) : padded;
    }
    return total;
  }

  // The sum of the contributions. A contribution that is a length-1 value broadcast to the node's
  // length (the adjoint of a mean or a sum) is added as the length-1 value when anything else has
  // the full length: the add broadcasts it.
  NodeId accumulate(NodeId id) {
    std::optional<NodeId> total = join_pieces(id);
    std::vector<NodeId> broadcasts;
    for (NodeId c : full_[id]) {
      if (g_.node(c).op == Op::broadcast) broadcasts.push_back(c);
      else total = total ? g_.add(*total, c) : c;
    }
    for (NodeId c : broadcasts) total = total ? g_.add(*total, g_.node(c).args[0]) : c;
    return total ? *total : kNone;
  }

  const Graph& cell_;
  Graph g_;
  Options options_;
  std::vector<bool> active_;
  std::vector<std::vector<NodeId>> full_;
  std::vector<std::vector<std::pair<Dim, NodeId>>> pieces_;
};

}  // namespace

namespace {

// A derivative graph has seed (and, once scheduled, saved) leaves, which have no adjoint of their
// own: cellforge computes first derivatives only.
void refuse_derivative_graph(const Graph& cell) {
  for (Op kind : {Op::seed, Op::saved})
    if (!cell.leaves(kind).empty())
      user_error("cell '", cell.name(), "' is a derivative graph (it has ", ir::op_name(kind),
                 " leaves); cellforge computes first derivatives only: differentiate the forward cell");
}

}  // namespace

Graph differentiate(const Graph& cell) {
  refuse_derivative_graph(cell);
  return ReverseSweep(cell, Options{}).run();
}

Graph state_vjp(const Graph& cell) {
  refuse_derivative_graph(cell);
  Options options;
  options.seed_output = false;
  options.gradient_leaves = {Op::state};
  options.suffix = "_vjp";
  return ReverseSweep(cell, options).run();
}

}  // namespace cellforge::autodiff
