// Proves backpropagation through time of whole networks: for every zoo cell (rnn, rnn_relu, lstm,
// gru, gru_classic), ir::ReferenceNetwork's BPTT, built on autodiff::differentiate, gives the
// gradient of
//
//   L = sum_t <dy_t, y_t> + sum_layers sum_states <ds_T, s_T>
//
// with respect to every parameter of every layer, every input step and every initial state, for
// T in {1, 2, 5} steps, L in {1, 2, 3} layers and B in {1, 3} rows, with non-zero random initial
// states and non-zero seeds on both the outputs and the final states. The oracle is central
// differences of L computed by the reference forward pass (reliability.md G1: eps 1e-6 in double,
// |analytic - numeric| <= 1e-7 + 1e-6 |numeric| per element, NaN fails).
//
// X = 3 and H = 4 differ, so a transposed matrix or a swapped size cannot pass; layers above the
// first read an input of size H.
#include <catch2/catch.hpp>
#include <cstdio>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/gradcheck.hpp"

using namespace cellforge;
using testing::Comparison;

namespace {

struct Problem {
  ir::LayerValues params, states, d_final_states;
  std::vector<ir::Array> inputs, d_outputs;
};

// Weights in [-0.6, 0.6] keep tanh and sigmoid away from saturation; states and seeds in [-1, 1].
Problem random_problem(const ir::Graph& cell, const ir::NetworkSizes& sizes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Problem p;
  const testing::Range weights{-0.6, 0.6, false}, values{-1, 1, false};
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    p.params.push_back(testing::random_leaves(cell, b, sizes.batch, {ir::Op::param}, weights, rng));
    p.states.push_back(testing::random_leaves(cell, b, sizes.batch, {ir::Op::state}, values, rng));
    p.d_final_states.push_back(testing::random_leaves(cell, b, sizes.batch, {ir::Op::state}, values, rng));
  }
  const ir::Bindings top = ir::layer_bindings(cell, sizes, sizes.layers - 1);
  const int64_t output_length =
      cell.type(cell.find_output(ir::Role::output, ir::output_name(cell))->node).rows.bind(top);
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    p.inputs.push_back(testing::random_array(sizes.batch, sizes.input, values, rng));
    p.d_outputs.push_back(testing::random_array(sizes.batch, output_length, values, rng));
  }
  return p;
}

Comparison check_network(const ir::Graph& cell, const ir::Graph& backward, int64_t unroll, int64_t layers,
                         int64_t batch, uint64_t seed) {
  ir::NetworkSizes sizes;
  sizes.input = 3, sizes.hidden = 4, sizes.batch = batch, sizes.unroll = unroll, sizes.layers = layers;
  const ir::ReferenceNetwork net(cell, backward, sizes);
  Problem p = random_problem(cell, sizes, seed);
  const ir::ReferenceGradients grads = net.backward(p.params, p.inputs, p.states, p.d_outputs, p.d_final_states);

  auto loss = [&] {
    const ir::ReferenceForward f = net.forward(p.params, p.inputs, p.states);
    double total = 0;
    for (int64_t t = 0; t < unroll; ++t) total += testing::inner(p.d_outputs[t], f.outputs[t]);
    for (int64_t l = 0; l < layers; ++l)
      for (const auto& [name, ds] : p.d_final_states[l]) total += testing::inner(ds, f.final_states[l].at(name));
    return total;
  };
  Comparison result;
  for (int64_t l = 0; l < layers; ++l) {
    const std::string layer = "layer " + std::to_string(l) + " ";
    for (auto& [name, value] : p.params[l]) {
      auto it = grads.params[l].find(name);
      testing::check_elements(result, layer + "d" + name, value, it == grads.params[l].end() ? nullptr : &it->second,
                              loss);
    }
    for (auto& [name, value] : p.states[l]) {
      auto it = grads.initial_states[l].find(name);
      testing::check_elements(result, layer + "d" + name + "_0", value,
                              it == grads.initial_states[l].end() ? nullptr : &it->second, loss);
    }
  }
  REQUIRE(grads.inputs.size() == static_cast<size_t>(unroll));
  for (int64_t t = 0; t < unroll; ++t)
    testing::check_elements(result, "dx_" + std::to_string(t), p.inputs[t], &grads.inputs[t], loss);
  return result;
}

void check_cell(const std::string& name) {
  const ir::Graph cell = zoo::find(name).build();
  const ir::Graph backward = autodiff::differentiate(cell);
  Comparison total;
  for (int64_t unroll : {1, 2, 5})
    for (int64_t layers : {1, 2, 3})
      for (int64_t batch : {1, 3}) {
        const uint64_t seed = static_cast<uint64_t>(100 * unroll + 10 * layers + batch);
        INFO(name << ": T = " << unroll << ", L = " << layers << ", B = " << batch << ", seed " << seed);
        const Comparison r = check_network(cell, backward, unroll, layers, batch, seed);
        INFO(r.summary());
        CHECK(r.ok);
        CHECK(r.largest > 0.01);  // the gradients are not all (near) zero: the check has teeth
        total.merge(r);
      }
  std::printf("BPTT %s: %s\n", name.c_str(), total.summary().c_str());
}

}  // namespace

TEST_CASE("BPTT of rnn matches central differences", "[gradcheck]") { check_cell("rnn"); }
TEST_CASE("BPTT of rnn_relu matches central differences", "[gradcheck]") { check_cell("rnn_relu"); }
TEST_CASE("BPTT of lstm matches central differences", "[gradcheck]") { check_cell("lstm"); }
TEST_CASE("BPTT of gru matches central differences", "[gradcheck]") { check_cell("gru"); }
TEST_CASE("BPTT of gru_classic matches central differences", "[gradcheck]") { check_cell("gru_classic"); }

// The zoo's variant cells (variants.cpp, gated_variants.cpp) are checked by test_zoo_variants.cpp,
// which also checks that it covers every cell after these five.
TEST_CASE("the BPTT check covers every zoo cell", "[gradcheck]") {
  std::vector<std::string> names;
  for (const auto& c : zoo::cells()) names.push_back(c.name);
  REQUIRE(names.size() >= 5);
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 5) ==
        std::vector<std::string>{"rnn", "rnn_relu", "lstm", "gru", "gru_classic"});
}
