// The random cell generator; see random_cell.hpp.
#include "support/random_cell.hpp"

#include <functional>
#include <random>
#include <vector>

#include "codegen/ir/rewrite.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"

namespace cellforge::testing {

using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;

namespace {

class Generator {
 public:
  Generator(uint64_t seed, const RandomCellOptions& options) : rng_(seed), options_(options), g_("random") {}

  Graph run() {
    const Dim H = Dim::named("H"), X = Dim::named("X");
    widths_ = {H, H * 2, X, Dim::constant(1)};
    NodeId x = g_.input("x", X);
    pool_.push_back(x);
    int states = 1 + pick(options_.max_states);
    for (int s = 0; s < states; ++s) {
      NodeId st = g_.state("s" + std::to_string(s), chance(0.7) ? H : H * 2);
      states_.push_back(st);
      pool_.push_back(st);
    }
    // Something from x and something from each state, so every leaf is read.
    NodeId from_input = g_.matmul(param_matrix(H, X), x);
    pool_.push_back(from_input);
    for (NodeId s : states_) pool_.push_back(g_.matmul(param_matrix(g_.type(s).rows, g_.type(s).rows), s));
    int nodes = options_.min_nodes + pick(options_.max_nodes - options_.min_nodes + 1);
    for (int i = 0; i < nodes; ++i) {
      NodeId v = random_node();
      if (v != kNone) pool_.push_back(v);
    }
    // Next states: tanh of a random value of the state's width plus a product with some state.
    for (size_t k = 0; k < states_.size(); ++k) {
      const Dim w = g_.type(states_[k]).rows;
      NodeId other = states_[(k + 1) % states_.size()];
      NodeId recurrent = g_.matmul(param_matrix(w, g_.type(other).rows), other);
      NodeId next = g_.unary(Op::tanh, g_.add(of_width(w), recurrent));
      g_.add_output(ir::Role::next, g_.node(states_[k]).name, next);
    }
    // The output reads the input, so the cell always depends on x.
    NodeId y = g_.unary(Op::tanh, g_.add(g_.add(of_width(H), of_width(H)), from_input));
    g_.add_output(ir::Role::output, "y", y);
    Graph cell = without_unused_leaves(g_);
    ir::verify_cell(cell);
    return cell;
  }

 private:
  static constexpr NodeId kNone = static_cast<NodeId>(-1);

  int pick(int n) { return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng_)); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  NodeId param_matrix(const Dim& rows, const Dim& cols) {
    return g_.param("W" + std::to_string(params_++), rows, cols);
  }
  NodeId param_vector(const Dim& n) { return g_.param("p" + std::to_string(params_++), n); }

  // A pool value of width w, adapted if none has it (slice of a wider value, or broadcast of a scalar).
  NodeId of_width(const Dim& w) {
    std::vector<NodeId> fits;
    for (NodeId v : pool_)
      if (g_.type(v).rows == w && !g_.type(v).shared) fits.push_back(v);
    if (!fits.empty() && chance(0.85)) return fits[pick(static_cast<int>(fits.size()))];
    NodeId v = per_row_value();
    const Dim vw = g_.type(v).rows;
    if (vw == w) return v;
    if (vw.is_constant(1)) return g_.broadcast(v, w);
    // Resize through a matmul: works for any pair of widths.
    return g_.matmul(param_matrix(w, vw), v);
  }

  NodeId per_row_value() {
    for (int tries = 0; tries < 100; ++tries) {
      NodeId v = pool_[pick(static_cast<int>(pool_.size()))];
      if (!g_.type(v).shared) return v;
    }
    return pool_[0];
  }
  NodeId any_value() { return pool_[pick(static_cast<int>(pool_.size()))]; }

  // Squashes a value into (0, 1).
  NodeId unit(NodeId v) { return g_.unary(Op::sigmoid, v); }

  NodeId random_node() {
    NodeId a = any_value();
    const Dim w = g_.type(a).rows;
    switch (pick(22)) {
      case 0: return g_.unary(Op::neg, a);
      case 1: return g_.unary(Op::sigmoid, a);
      case 2: return g_.unary(Op::tanh, a);
      case 3: return g_.unary(Op::relu, a);
      case 4: return g_.unary(Op::exp, g_.unary(Op::tanh, a));                                  // e^(-1..1)
      // log(0.6..1.6), not log(0.5..1.5): s = log(sigmoid(s) + 0.5) has its fixed point at exactly 0,
      // where float32 rounds log(1 + s/4) to 0 long before double does — a state converging there
      // flips a later step()/relu() between the two (random cell seed 102015), which is rounding,
      // not a miscompilation.
      case 5: return g_.unary(Op::log, g_.add(unit(a), g_.constant(0.6)));
      case 6: return g_.unary(Op::sqrt, g_.add(unit(a), g_.constant(0.1)));
      case 7: return g_.unary(Op::rsqrt, g_.add(unit(a), g_.constant(0.5)));
      case 8: return g_.unary(Op::stop_gradient, a);
      case 9: return g_.mul(g_.unary(Op::step, a), per_row_value_of(w));
      case 10: return g_.add(a, of_width_or_scalar(w));
      case 11: return g_.sub(a, of_width_or_scalar(w));
      case 12: return g_.mul(g_.unary(Op::tanh, a), of_width_or_scalar(w));
      case 13: return g_.div(a, g_.add(g_.constant(1.5), g_.unary(Op::tanh, of_width_or_scalar(w))));  // / 0.5..2.5
      case 14: {  // matmul to a random width
        Dim out = widths_[pick(2)];
        return g_.matmul(param_matrix(out, w), a);
      }
      case 15:  // transposed matmul
        return g_.matmul_t(param_matrix(w, widths_[pick(2)]), a);
      case 16: {  // concat, then maybe a slice back to a pool width
        NodeId b = per_row_value();
        NodeId c = g_.concat({a, b});
        if (chance(0.5)) return c;
        const Dim bw = g_.type(b).rows;
        return chance(0.5) ? g_.slice(c, Dim(), w) : g_.slice(c, w, bw);
      }
      case 17: return chance(0.5) ? g_.reduce(Op::mean, a) : g_.mul(g_.reduce(Op::sum, a), g_.constant(0.1));
      case 18:  // a shared value: a function of a parameter, broadcast over the batch
        return g_.mul(g_.unary(Op::sigmoid, param_vector(w)), a);
      case 19:  // pad into a wider vector
        return g_.pad(a, chance(0.5) ? Dim() : w, w * 2);
      case 20:  // a value shared by the batch: the batch mean of a squashed value, scaled
        return g_.mul(g_.reduce(Op::batch_sum, g_.unary(Op::tanh, per_row_value_of(w))), g_.constant(0.25));
      default: {  // an outer product used as a matrix
        NodeId u = g_.unary(Op::tanh, per_row_value_of(w));
        NodeId v = g_.unary(Op::tanh, per_row_value());
        NodeId m = g_.outer(u, v);  // [w, |v|], summed over the batch
        return g_.mul(g_.matmul(m, g_.unary(Op::tanh, per_row_value_of(g_.type(v).rows))), g_.constant(0.1));
      }
    }
  }

  NodeId per_row_value_of(const Dim& w) { return of_width(w); }
  NodeId of_width_or_scalar(const Dim& w) {
    if (chance(0.2)) return g_.constant(std::uniform_real_distribution<double>(-2, 2)(rng_));
    if (chance(0.15)) return g_.reduce(Op::mean, per_row_value());
    return of_width(w);
  }

  // Rebuilds the graph with only the leaves the results use.
  static Graph without_unused_leaves(const Graph& g) {
    std::vector<bool> used(g.size(), false);
    for (const ir::Output& o : g.outputs()) used[o.node] = true;
    for (NodeId id = static_cast<NodeId>(g.size()); id-- > 0;)
      if (used[id])
        for (NodeId a : g.node(id).args) used[a] = true;
    Graph out(g.name());
    std::vector<NodeId> map(g.size());
    for (NodeId id = 0; id < g.size(); ++id) {
      if (!used[id]) continue;
      ir::Node n = g.node(id);
      for (NodeId& a : n.args) a = map[a];
      map[id] = out.make(n);
    }
    for (const ir::Output& o : g.outputs()) out.add_output(o.role, o.name, map[o.node]);
    return out;
  }

  std::mt19937_64 rng_;
  RandomCellOptions options_;
  Graph g_;
  std::vector<Dim> widths_;
  std::vector<NodeId> pool_;
  std::vector<NodeId> states_;
  int params_ = 0;
};

}  // namespace

Graph random_cell(uint64_t seed, const RandomCellOptions& options) { return Generator(seed, options).run(); }

}  // namespace cellforge::testing
