// Proves the reference interpreter (codegen/ir/interpreter.hpp) on values worked out by hand:
// every activation, broadcasting of length-1 and shared operands, shared values stored once
// ([1, n]), the matrix products (outer sums over the rows of the batch), the structural ops,
// the reductions including batch_sum; and that a reference network of stacked steps is the same
// as running the step graph by hand.
#include <catch2/catch.hpp>
#include <cmath>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/interpreter.hpp"
#include "codegen/ir/reference_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using ir::Array;
using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;

namespace {

const Dim H = Dim::named("H");
const Dim X = Dim::named("X");

Array rows(std::initializer_list<std::initializer_list<double>> values) {
  Array a(static_cast<int64_t>(values.size()), static_cast<int64_t>(values.begin()->size()));
  size_t i = 0;
  for (const auto& row : values)
    for (double v : row) a.data[i++] = v;
  return a;
}

// The value of `node` in `g` for a batch of `batch` rows with H = 3, X = 2.
Array value(const Graph& g, NodeId node, int64_t batch, const ir::LeafValues& leaves) {
  return ir::evaluate(g, {{"H", 3}, {"X", 2}}, batch, leaves).at(node);
}

}  // namespace

TEST_CASE("interpreter: activations, elementwise", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", H);
  const ir::LeafValues leaves = {{"x", rows({{-2.0, 0.0, 4.0}})}};
  auto at = [&](Op op) { return value(g, g.unary(op, x), 1, leaves).data; };
  CHECK(at(Op::neg) == std::vector<double>{2.0, -0.0, -4.0});
  CHECK(at(Op::relu) == std::vector<double>{0.0, 0.0, 4.0});
  CHECK(at(Op::step) == std::vector<double>{0.0, 0.0, 1.0});  // step(0) = 0: relu's subgradient at 0
  CHECK(at(Op::stop_gradient) == std::vector<double>{-2.0, 0.0, 4.0});
  CHECK(at(Op::sigmoid)[1] == 0.5);
  CHECK(at(Op::sigmoid)[0] == Approx(1.0 / (1.0 + std::exp(2.0))));
  CHECK(at(Op::tanh)[2] == Approx(std::tanh(4.0)));
  CHECK(at(Op::exp)[2] == Approx(std::exp(4.0)));
  CHECK(at(Op::sqrt)[2] == 2.0);
  CHECK(at(Op::rsqrt)[2] == 0.5);
  CHECK(at(Op::log)[2] == Approx(std::log(4.0)));
}

TEST_CASE("interpreter: broadcasting along the features and along the batch", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", H);
  NodeId u = g.input("u", Dim::constant(1));
  NodeId b = g.param("b", H);
  const ir::LeafValues leaves = {
      {"x", rows({{1, 2, 3}, {4, 5, 6}})}, {"u", rows({{10}, {20}})}, {"b", rows({{100, 200, 300}})}};
  CHECK(value(g, g.add(x, u), 2, leaves).data == std::vector<double>{11, 12, 13, 24, 25, 26});
  CHECK(value(g, g.sub(u, x), 2, leaves).data == std::vector<double>{9, 8, 7, 16, 15, 14});
  CHECK(value(g, g.add(x, b), 2, leaves).data == std::vector<double>{101, 202, 303, 104, 205, 306});
  CHECK(value(g, g.mul(g.constant(2.0), x), 2, leaves).data == std::vector<double>{2, 4, 6, 8, 10, 12});
  CHECK(value(g, g.div(x, g.constant(2.0)), 2, leaves).data == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  // Shared values are stored once, [1, n], whatever the batch.
  const Array shared = value(g, g.mul(b, g.constant(0.5)), 2, leaves);
  CHECK(shared.rows == 1);
  CHECK(shared.data == std::vector<double>{50, 100, 150});
  const Array constant = value(g, g.constant(7.0, H), 2, leaves);
  CHECK(constant.rows == 1);
  CHECK(constant.data == std::vector<double>{7, 7, 7});
}

TEST_CASE("interpreter: matmul, matmul_t and outer", "[unit]") {
  Graph g("c");
  NodeId W = g.param("W", H, X);  // [3, 2]
  NodeId v = g.input("v", X);
  NodeId z = g.input("z", H);
  const ir::LeafValues leaves = {
      {"W", rows({{1, 2}, {3, 4}, {5, 6}})}, {"v", rows({{1, 1}, {1, -1}})}, {"z", rows({{1, 0, 0}, {0, 1, 1}})}};
  CHECK(value(g, g.matmul(W, v), 2, leaves).data == std::vector<double>{3, 7, 11, -1, -1, -1});
  CHECK(value(g, g.matmul_t(W, z), 2, leaves).data == std::vector<double>{1, 2, 8, 10});
  // outer sums z_r v_r^T over the rows r of the batch: a shared [3, 2] matrix.
  const Array o = value(g, g.outer(z, v), 2, leaves);
  CHECK(o.rows == 3);
  CHECK(o.cols == 2);
  CHECK(o.data == std::vector<double>{1, 1, 1, -1, 1, -1});
}

TEST_CASE("interpreter: slice, concat, pad, broadcast", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", H);
  NodeId u = g.input("u", Dim::constant(1));
  NodeId b = g.param("b", X);
  const ir::LeafValues leaves = {{"x", rows({{1, 2, 3}, {4, 5, 6}})}, {"u", rows({{7}, {8}})}, {"b", rows({{-1, -2}})}};
  NodeId ux = g.concat({u, x});
  CHECK(value(g, g.slice(ux, Dim::constant(1), H), 2, leaves).data == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(value(g, g.slice(g.concat({x, b}), H, X), 2, leaves).data == std::vector<double>{-1, -2, -1, -2});
  CHECK(value(g, g.concat({u, x, b}), 2, leaves).data == std::vector<double>{7, 1, 2, 3, -1, -2, 8, 4, 5, 6, -1, -2});
  CHECK(value(g, g.pad(u, Dim::constant(1), Dim::constant(3)), 2, leaves).data ==
        std::vector<double>{0, 7, 0, 0, 8, 0});
  CHECK(value(g, g.broadcast(u, H), 2, leaves).data == std::vector<double>{7, 7, 7, 8, 8, 8});
}

TEST_CASE("interpreter: sum, mean over the features and batch_sum over the rows", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", H);
  const ir::LeafValues leaves = {{"x", rows({{1, 2, 3}, {4, 5, 9}})}};
  CHECK(value(g, g.reduce(Op::sum, x), 2, leaves).data == std::vector<double>{6, 18});
  CHECK(value(g, g.reduce(Op::mean, x), 2, leaves).data == std::vector<double>{2, 6});
  const Array total = value(g, g.reduce(Op::batch_sum, x), 2, leaves);
  CHECK(total.rows == 1);
  CHECK(total.data == std::vector<double>{5, 7, 12});
  // One value used twice: x * batch_sum(x) reads the same node per row and summed.
  CHECK(value(g, g.mul(x, g.reduce(Op::batch_sum, x)), 2, leaves).data == std::vector<double>{5, 14, 36, 20, 35, 108});
}

TEST_CASE("interpreter: results by role and name", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", H);
  NodeId h = g.state("h", H);
  NodeId h_next = g.add(x, h);
  g.add_output(ir::Role::next, "h", h_next);
  g.add_output(ir::Role::output, "y", g.unary(Op::neg, h_next));
  const auto out = ir::evaluate_outputs(g, {{"H", 3}}, 1, {{"x", rows({{1, 2, 3}})}, {"h", rows({{1, 1, 1}})}});
  CHECK(out.size() == 2);
  CHECK(out.at("next h").data == std::vector<double>{2, 3, 4});
  CHECK(out.at("output y").data == std::vector<double>{-2, -3, -4});
  CHECK(ir::output_key(ir::Role::grad, "W") == "grad W");
}

TEST_CASE("a reference network is the step graph run layer by layer, step by step", "[unit]") {
  const Graph cell = zoo::find("lstm").build();
  ir::NetworkSizes sizes;
  sizes.input = 2, sizes.hidden = 3, sizes.batch = 2, sizes.unroll = 3, sizes.layers = 2;
  const ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  ir::LayerValues params(2), states(2);
  double v = 0.01;
  for (int64_t l = 0; l < 2; ++l) {
    const ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    CHECK(b.at("X") == (l == 0 ? 2 : 3));
    for (NodeId p : cell.leaves(Op::param)) {
      const ir::Type& t = cell.type(p);
      Array a = t.is_matrix() ? Array(t.rows.bind(b), t.cols.bind(b)) : Array(1, t.rows.bind(b));
      for (double& e : a.data) e = std::sin(v += 0.37);
      params[l][cell.node(p).name] = a;
    }
    for (const char* s : {"h", "c"}) {
      states[l][s] = Array(2, 3);
      for (double& e : states[l][s].data) e = std::cos(v += 0.29);
    }
  }
  std::vector<Array> inputs;
  for (int t = 0; t < 3; ++t) {
    inputs.emplace_back(2, 2);
    for (double& e : inputs.back().data) e = std::sin(v += 0.53);
  }
  const ir::ReferenceForward f = net.forward(params, inputs, states);
  // By hand: layer 0 over all steps, then layer 1 on its outputs.
  std::vector<Array> layer_input = inputs;
  for (int64_t l = 0; l < 2; ++l) {
    ir::LeafValues leaves = params[l];
    leaves.insert(states[l].begin(), states[l].end());
    for (int t = 0; t < 3; ++t) {
      leaves["x"] = layer_input[t];
      const auto out = ir::evaluate_outputs(cell, ir::layer_bindings(cell, sizes, l), 2, leaves);
      leaves["h"] = out.at("next h");
      leaves["c"] = out.at("next c");
      layer_input[t] = out.at("output y");
    }
    CHECK(f.final_states[l].at("h").data == leaves["h"].data);
    CHECK(f.final_states[l].at("c").data == leaves["c"].data);
  }
  REQUIRE(f.outputs.size() == 3);
  for (int t = 0; t < 3; ++t) CHECK(f.outputs[t].data == layer_input[t].data);
}
