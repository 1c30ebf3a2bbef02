// The op-level cases of the gradient checks: small graphs, each one op with only what it needs
// around it, that together use every non-leaf op of ops.def in the shapes where derivative rules
// go wrong: operands of length 1 (broadcast along the features), shared operands (parameters and
// constants, broadcast along the batch: their adjoints need sum / batch_sum), a value used twice,
// slices that tile, leave gaps or overlap (the reverse sweep joins them into a concat, fills gaps
// with zeros or falls back to a sum of pads), matrices.
//
// Every case's result is the per-row output y. The reverse check differentiates the graph as it
// is; the forward check (linearize differentiates with respect to states only) first turns its
// inputs into states with inputs_as_states(). Leaves are drawn from the case's Range, which keeps
// them away from relu's kink and inside the domains of log, sqrt, rsqrt and 1/x.
#pragma once

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "support/gradcheck.hpp"

namespace cellforge::testing {

struct OpCase {
  std::string name;
  std::function<ir::Graph()> build;
  Range range;
};

/// The sizes of the op cases: distinct, so that a swapped size cannot pass.
inline ir::Bindings op_case_bindings() { return {{"H", 4}, {"X", 3}}; }

namespace cases {

using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;

inline Dim H() { return Dim::named("H"); }
inline Dim X() { return Dim::named("X"); }
inline Dim k(int64_t n) { return Dim::constant(n); }

inline OpCase make(std::string name, std::function<NodeId(Graph&)> body, Range range = {}) {
  // The graph is named after the case with every non-identifier character replaced, so that
  // its text form parses back.
  std::string identifier = name;
  for (char& ch : identifier)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return {name,
          [identifier, body] {
            Graph g(identifier);
            g.add_output(ir::Role::output, "y", body(g));
            return g;
          },
          range};
}

inline void add_unary_cases(std::vector<OpCase>& out) {
  const Range wide{-2, 2, false}, away_from_zero{0.1, 2, true}, positive{0.3, 2, false};
  struct U {
    Op op;
    Range range;
  };
  for (U u : {U{Op::neg, wide}, U{Op::sigmoid, wide}, U{Op::tanh, wide}, U{Op::relu, away_from_zero}, U{Op::exp, wide},
              U{Op::log, positive}, U{Op::sqrt, positive}, U{Op::rsqrt, positive}}) {
    const Op op = u.op;
    out.push_back(make(
        std::string(ir::op_name(op)) + " x", [op](Graph& g) { return g.unary(op, g.input("x", H())); }, u.range));
  }
  // step passes no gradient: d(step(x) x) = step(x) dx away from 0.
  out.push_back(make(
      "step x times x",
      [](Graph& g) {
        NodeId x = g.input("x", H());
        return g.mul(g.unary(Op::step, x), x);
      },
      away_from_zero));
  out.push_back(make("tanh of a shared parameter, added to x",
                     [](Graph& g) { return g.add(g.input("x", H()), g.unary(Op::tanh, g.param("b", H()))); }));
  out.push_back(make("neg of a matrix parameter, then matmul",
                     [](Graph& g) { return g.matmul(g.unary(Op::neg, g.param("W", H(), X())), g.input("x", X())); }));
}

inline void add_binary_cases(std::vector<OpCase>& out) {
  const Range plain{-1, 1, false}, denominators{0.5, 2, true};
  for (Op op : {Op::add, Op::sub, Op::mul, Op::div}) {
    const std::string o = ir::op_name(op);
    const Range r = op == Op::div ? denominators : plain;
    auto pair = [&](const std::string& what, std::function<NodeId(Graph&)> a, std::function<NodeId(Graph&)> b) {
      out.push_back(make(
          o + ": " + what,
          [op, a, b](Graph& g) {
            NodeId left = a(g);
            NodeId right = b(g);
            return g.binary(op, left, right);
          },
          r));
    };
    auto x = [](Graph& g) { return g.input("x", H()); };
    auto z = [](Graph& g) { return g.input("z", H()); };
    auto u = [](Graph& g) { return g.input("u", k(1)); };
    auto b = [](Graph& g) { return g.param("b", H()); };
    auto s = [](Graph& g) { return g.param("s", k(1)); };
    auto c = [](Graph& g) { return g.constant(0.75); };
    pair("[H] and [H]", x, z);
    pair("[H] and per-row [1]", x, u);
    pair("per-row [1] and [H]", u, x);
    pair("[H] and shared [H]", x, b);
    pair("shared [H] and [H]", b, x);
    pair("[H] and shared [1]", x, s);
    pair("shared [1] and [H]", s, x);
    pair("per-row [1] and shared [1]", u, s);
    pair("[H] and a constant", x, c);
    pair("a constant and [H]", c, x);
    pair("one value twice", x, x);
    out.push_back(make(
        o + ": two matrices, then matmul",
        [op](Graph& g) {
          NodeId m = g.binary(op, g.param("W", H(), X()), g.param("V", H(), X()));
          return g.matmul(m, g.input("x", X()));
        },
        r));
  }
}

inline void add_matmul_cases(std::vector<OpCase>& out) {
  out.push_back(make("matmul W x", [](Graph& g) { return g.matmul(g.param("W", H(), X()), g.input("x", X())); }));
  out.push_back(make("matmul of a shared vector, added to z", [](Graph& g) {
    return g.add(g.matmul(g.param("W", H(), X()), g.param("v", X())), g.input("z", H()));
  }));
  out.push_back(make("matmul with a vector of length 1",
                     [](Graph& g) { return g.matmul(g.param("W", H(), k(1)), g.input("u", k(1))); }));
  out.push_back(make("one matrix in two matmuls", [](Graph& g) {
    NodeId w = g.param("W", H(), X());
    return g.add(g.matmul(w, g.input("x", X())), g.matmul(w, g.input("x2", X())));
  }));
  out.push_back(make("matmul_t W z", [](Graph& g) { return g.matmul_t(g.param("W", H(), X()), g.input("z", H())); }));
  out.push_back(make("matmul_t of a shared vector, added to x", [](Graph& g) {
    return g.add(g.matmul_t(g.param("W", H(), X()), g.param("b", H())), g.input("x", X()));
  }));
  out.push_back(make("outer of per-row vectors, then matmul", [](Graph& g) {
    return g.matmul(g.outer(g.input("z", H()), g.input("x", X())), g.input("v", X()));
  }));
  out.push_back(make("outer of shared vectors, then matmul", [](Graph& g) {
    return g.matmul(g.outer(g.param("b", H()), g.param("c", X())), g.input("x", X()));
  }));
  out.push_back(make("outer of per-row vectors, then matmul_t", [](Graph& g) {
    return g.matmul_t(g.outer(g.input("z", H()), g.input("x", X())), g.input("v", H()));
  }));
}

inline void add_structural_cases(std::vector<OpCase>& out) {
  out.push_back(make("slice at a symbolic offset", [](Graph& g) { return g.slice(g.input("x", H() * 2), H(), H()); }));
  // Constant offsets need a vector of constant length: [1, 3) of [H] is refused (H may be 2).
  out.push_back(make("slice at a constant offset", [](Graph& g) { return g.slice(g.input("x", k(5)), k(1), k(2)); }));
  out.push_back(make("four slices tiling [4H] (LSTM gates: adjoints joined by concat)", [](Graph& g) {
    NodeId z = g.input("z", H() * 4);
    NodeId i = g.unary(Op::sigmoid, g.slice(z, Dim(), H()));
    NodeId f = g.unary(Op::sigmoid, g.slice(z, H(), H()));
    NodeId c = g.unary(Op::tanh, g.slice(z, H() * 2, H()));
    NodeId o = g.slice(z, H() * 3, H());
    return g.add(g.mul(f, o), g.mul(i, c));
  }));
  out.push_back(make("slices with a gap between them (zeros fill it)", [](Graph& g) {
    NodeId x = g.input("x", H() * 3);
    return g.mul(g.slice(x, Dim(), H()), g.slice(x, H() * 2, H()));
  }));
  out.push_back(make("overlapping slices (a sum of pads)", [](Graph& g) {
    NodeId x = g.input("x", k(5));
    return g.mul(g.slice(x, Dim(), k(2)), g.slice(x, k(1), k(2)));
  }));
  out.push_back(make("slices of different lengths at one offset", [](Graph& g) {
    NodeId x = g.input("x", k(5));
    return g.add(g.slice(x, Dim(), k(1)), g.unary(Op::tanh, g.slice(x, Dim(), k(2))));
  }));
  out.push_back(make("slice of a shared parameter",
                     [](Graph& g) { return g.mul(g.input("x", H()), g.slice(g.param("b", H() * 2), H(), H())); }));
  out.push_back(make("concat of per-row, length-1, shared and constant parts", [](Graph& g) {
    return g.concat({g.input("x", H()), g.input("u", k(1)), g.param("b", H()), g.constant(0.5)});
  }));
  out.push_back(make("concat of one value twice", [](Graph& g) {
    NodeId x = g.input("x", H());
    return g.concat({x, g.unary(Op::tanh, x), x});
  }));
  out.push_back(make("concat of shared parts, used per row", [](Graph& g) {
    return g.mul(g.concat({g.param("b", H()), g.param("s", k(1))}), g.concat({g.input("x", H()), g.input("u", k(1))}));
  }));
  out.push_back(make("pad at a constant offset", [](Graph& g) { return g.pad(g.input("x", H()), k(1), H() + k(2)); }));
  out.push_back(make("pad at a symbolic offset", [](Graph& g) { return g.pad(g.input("x", H()), H(), H() * 3); }));
  out.push_back(make("pad of a shared parameter, added to x", [](Graph& g) {
    return g.add(g.pad(g.param("b", H()), k(1), H() + k(1)), g.input("x", H() + k(1)));
  }));
  out.push_back(make("broadcast of a per-row [1]",
                     [](Graph& g) { return g.mul(g.broadcast(g.input("u", k(1)), H()), g.input("x", H())); }));
  out.push_back(make("broadcast of a shared [1]",
                     [](Graph& g) { return g.mul(g.broadcast(g.param("s", k(1)), H()), g.input("x", H())); }));
}

inline void add_reduce_cases(std::vector<OpCase>& out) {
  out.push_back(
      make("sum x, times z", [](Graph& g) { return g.mul(g.reduce(Op::sum, g.input("x", H())), g.input("z", H())); }));
  out.push_back(make("sum of a shared parameter, times x",
                     [](Graph& g) { return g.mul(g.reduce(Op::sum, g.param("b", H())), g.input("x", H())); }));
  out.push_back(make("mean x, times z",
                     [](Graph& g) { return g.mul(g.reduce(Op::mean, g.input("x", H())), g.input("z", H())); }));
  out.push_back(make("mean of a shared parameter, times x",
                     [](Graph& g) { return g.mul(g.reduce(Op::mean, g.param("b", H())), g.input("x", H())); }));
  out.push_back(make("batch_broadcast of a parameter, times x",
                     [](Graph& g) { return g.mul(g.input("x", H()), g.batch_broadcast(g.param("p", H()))); }));
  out.push_back(make("batch_sum z, times x",
                     [](Graph& g) { return g.mul(g.input("x", H()), g.reduce(Op::batch_sum, g.input("z", H()))); }));
  out.push_back(make("batch_sum x, times x (one value, per row and summed)", [](Graph& g) {
    NodeId x = g.input("x", H());
    return g.mul(x, g.reduce(Op::batch_sum, x));
  }));
  // (x - mean x) * rsqrt(mean (x - mean x)^2 + 0.1) * gamma + beta
  out.push_back(make("layer norm (sum, mean, rsqrt, shared scale and shift)", [](Graph& g) {
    NodeId x = g.input("x", H());
    NodeId centred = g.sub(x, g.reduce(Op::mean, x));
    NodeId variance = g.reduce(Op::mean, g.mul(centred, centred));
    NodeId normed = g.mul(centred, g.unary(Op::rsqrt, g.add(variance, g.constant(0.1))));
    return g.add(g.mul(normed, g.param("gamma", H())), g.param("beta", H()));
  }));
}

}  // namespace cases

/// Every op-level case, in a fixed order.
inline std::vector<OpCase> op_cases() {
  std::vector<OpCase> out;
  cases::add_unary_cases(out);
  cases::add_binary_cases(out);
  cases::add_matmul_cases(out);
  cases::add_structural_cases(out);
  cases::add_reduce_cases(out);
  return out;
}

/// The same graph with its inputs turned into states and its results into next values, so that
/// linearize (which differentiates with respect to states) sees every per-row leaf vary.
inline ir::Graph inputs_as_states(const ir::Graph& graph) {
  ir::Graph out(graph.name());
  for (ir::NodeId id = 0; id < graph.size(); ++id) {
    ir::Node node = graph.node(id);
    if (node.op == ir::Op::input) node.op = ir::Op::state;
    out.make(node);
    if (!graph.label(id).empty()) out.set_label(id, graph.label(id));
  }
  for (const ir::Output& o : graph.outputs()) out.add_output(ir::Role::next, o.name, o.node);
  return out;
}

}  // namespace cellforge::testing
