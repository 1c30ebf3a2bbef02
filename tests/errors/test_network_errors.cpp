// Proves that bad input to a reference network, and to the interpreter under it, is refused with a
// UserError whose whole text is checked: sizes below 1 (input, hidden, batch, unroll, layers,
// extra sizes), a size the cell needs but was not given, a cell that cannot be a layer (two inputs,
// none), and arrays of the wrong shape or number (inputs, steps, initial states, parameters,
// seeds); and that zoo::find of an unknown name lists the known ones.
// (reliability.md (c), rows 2, 4, 5, 6, 7, 8.)
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/ir/text.hpp"
#include "dsl/dsl.hpp"
#include "runtime/verify/differential.hpp"
#include "runtime/verify/gradcheck.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

ir::NetworkSizes good_sizes() {
  ir::NetworkSizes s;
  s.input = 3, s.hidden = 4, s.batch = 2, s.unroll = 2, s.layers = 2;
  return s;
}

// The message of the UserError that building a reference network of `cell` throws.
std::string network_error(const ir::Graph& cell, const ir::NetworkSizes& sizes) {
  try {
    ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

// Parameters, initial states and inputs of the right shapes for `sizes` (all 0.1).
struct Values {
  ir::LayerValues params, states;
  std::vector<ir::Array> inputs, d_outputs;
};
Values good_values(const ir::Graph& cell, const ir::NetworkSizes& sizes) {
  Values v;
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    v.params.emplace_back();
    v.states.emplace_back();
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      v.params[l][cell.node(p).name] =
          t.is_matrix() ? ir::Array(t.rows.bind(b), t.cols.bind(b), 0.1) : ir::Array(1, t.rows.bind(b), 0.1);
    }
    for (ir::NodeId s : cell.leaves(ir::Op::state))
      v.states[l][cell.node(s).name] = ir::Array(sizes.batch, cell.type(s).rows.bind(b), 0.1);
  }
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    v.inputs.emplace_back(sizes.batch, sizes.input, 0.1);
    v.d_outputs.emplace_back(sizes.batch, sizes.hidden, 0.1);
  }
  return v;
}

ir::Graph lstm() { return zoo::find("lstm").build(); }

// A cell with a size the user names: the state has P features.
ir::Graph projected() {
  using namespace cellforge::dsl;
  constexpr auto P = dim("P"_s);
  auto x = input("x"_s, X);
  auto h = state("h"_s, P);
  auto W = param("W"_s, H, X + P);
  auto R = param("R"_s, P, H);
  auto h_next = R * tanh(W * concat(x, h));
  return reify(cell("projected"_s, next(h, h_next), output(h_next)));
}

}  // namespace

TEST_CASE("errors: reference network: a good network builds and runs (the control for the tests below)", "[errors]") {
  const ir::Graph cell = lstm();
  const ir::NetworkSizes sizes = good_sizes();
  CHECK(network_error(cell, sizes) == "");
  const ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  const Values v = good_values(cell, sizes);
  CHECK_NOTHROW(net.forward(v.params, v.inputs, v.states));
  CHECK_NOTHROW(net.backward(v.params, v.inputs, v.states, v.d_outputs, v.states));
}

TEST_CASE("errors: reference network: sizes below 1 are refused, each by name, value and fix", "[errors]") {
  const ir::Graph cell = lstm();
  auto with = [](auto change) {
    ir::NetworkSizes s = good_sizes();
    change(s);
    return s;
  };
  CHECK(network_error(cell, with([](auto& s) { s.input = 0; })) ==
        "input size must be >= 1, got 0; pass the number of features of x_t");
  CHECK(network_error(cell, with([](auto& s) { s.hidden = 0; })) ==
        "hidden size must be >= 1, got 0; pass the number of hidden units H");
  CHECK(network_error(cell, with([](auto& s) { s.hidden = -3; })) ==
        "hidden size must be >= 1, got -3; pass the number of hidden units H");
  CHECK(network_error(cell, with([](auto& s) { s.batch = 0; })) ==
        "batch size must be >= 1, got 0; run at least one sequence");
  CHECK(network_error(cell, with([](auto& s) { s.unroll = 0; })) ==
        "unroll length must be >= 1, got 0; run at least one step");
  CHECK(network_error(cell, with([](auto& s) { s.layers = 0; })) ==
        "number of layers must be >= 1, got 0; stack at least one cell");
}

TEST_CASE("errors: reference network: extra sizes: missing, below 1, or shadowing X and H", "[errors]") {
  const ir::Graph cell = projected();
  ir::NetworkSizes s = good_sizes();
  CHECK(network_error(cell, s) ==
        "size 'P' is used by the cell (in [P]) but was not given; pass a value for 'P' in the sizes");
  s.extra = {{"P", 0}};
  CHECK(network_error(cell, s) == "size 'P' must be >= 1, got 0");
  s.extra = {{"P", 2}, {"X", 5}};
  CHECK(network_error(cell, s) ==
        "size 'X' is given as an extra size; set it through the input or hidden size instead");
  s.extra = {{"P", 2}};
  CHECK(network_error(cell, s) == "");
  // Above the first layer X is the output size of the layer below: P.
  CHECK(ir::layer_bindings(cell, s, 1).at("X") == 2);
}

TEST_CASE("errors: reference network: a cell with two inputs, or none, cannot be a layer", "[errors]") {
  using namespace cellforge::dsl;
  auto x = input("x"_s, X);
  auto m = input("mask"_s, H);
  auto h = state("h"_s, H);
  auto W = param("W"_s, H, X);
  auto U = param("U"_s, H, H);
  auto two = reify(cell("two_inputs"_s, next(h, m * tanh(W * x + U * h)), output(h * m)));
  CHECK(network_error(two, good_sizes()) ==
        "cell 'two_inputs' has 2 inputs; a layer of a network feeds exactly one input vector to its cell");
  auto none = reify(cell("no_input"_s, next(h, tanh(U * h)), output(tanh(U * h))));
  CHECK(network_error(none, good_sizes()) ==
        "cell 'no_input' has 0 inputs; a layer of a network feeds exactly one input vector to its cell");
}

TEST_CASE("errors: a cell whose input is not the layer's X features is refused", "[errors]") {
  // x declared [H] reads H features; with X != H the layer would read part of its input (or past it).
  const ir::Graph cell = ir::parse(R"(cell input_as_h {
  input %x : [H]
  state %h : [H]
  param %U : [H, H]
  %m = matmul %U, %h : [H]
  %a = add %m, %x : [H]
  %n = tanh %a : [H]
  next h = %n
  output y = %n
}
)");
  ir::NetworkSizes s = good_sizes();
  s.input = s.hidden + 1;
  CHECK(network_error(cell, s) == "cell 'input_as_h' reads its input 'x' as [H] = " + std::to_string(s.hidden) +
                                      " features at layer 0, but that layer is fed X = " + std::to_string(s.input) +
                                      " (the network's input size); declare the input as [X]");
  s.input = s.hidden;
  CHECK(network_error(cell, s) == "");
  // A bidirectional layer below feeds 2H.
  ir::NetworkSpec spec = ir::NetworkSpec::stack(cell, {.input = 3, .hidden = 3, .batch = 1, .unroll = 1, .layers = 2, .extra = {}});
  spec.layers[0].bidirectional = true;
  CHECK_THROWS_WITH(ir::check_spec(spec), Catch::Contains("at layer 1, but that layer is fed X = 6 (the output width "
                                                          "of the layer below); declare the input as [X]"));
}

TEST_CASE("errors: zoneout and weight drop: a rate outside [0, 1), a state or parameter no cell has, a reserved "
          "input name, missing masks",
          "[errors]") {
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("lstm").build(), good_sizes());
  spec.zoneout = {{"c", 0.5}};
  CHECK_NOTHROW(ir::check_spec(spec));
  for (double bad : {1.0, -0.1, std::nan("")}) {
    spec.zoneout = {{"h", bad}};
    std::ostringstream rate;
    rate << bad;
    CHECK_THROWS_WITH(ir::check_spec(spec), "zoneout of state 'h' must be a probability in [0, 1) (the chance an element "
                                            "keeps its previous value), got " + rate.str());
  }
  spec.zoneout = {{"cell", 0.5}};
  CHECK_THROWS_WITH(ir::check_spec(spec), "zoneout names state 'cell', which no layer's cell has; the cells' states are "
                                          "'h', 'c'; name one of them");
  spec.zoneout.clear();
  spec.weight_drop = {{"W_hh", 1.0}};
  CHECK_THROWS_WITH(ir::check_spec(spec), "weight drop of parameter 'W_hh' must be a probability in [0, 1) (the chance an "
                                          "element is zeroed for a call), got 1");
  spec.weight_drop = {{"U", 0.5}};
  CHECK_THROWS_WITH(ir::check_spec(spec), "weight drop names parameter 'U', which no layer's cell has; the cells' "
                                          "parameters are 'W_ih', 'b_ih', 'W_hh', 'b_hh'; name one of them");
  spec.weight_drop.clear();
  // The compiler adds the inputs zoneout_<state>: a cell may not name an input so.
  const ir::Graph reserved = ir::parse(R"(cell reserved_name {
  input %zoneout_x : [X]
  state %h : [H]
  param %W : [H, X]
  %m = matmul %W, %zoneout_x : [H]
  %n = tanh %m : [H]
  next h = %n
  output y = %n
}
)");
  CHECK(network_error(reserved, good_sizes()) ==
        "cell 'reserved_name' has an input named 'zoneout_x', a name cellforge reserves for the inputs it adds "
        "(step_mask, dropout_mask, zoneout_...); rename it");
  // verify::gradcheck has no masks to give: it refuses zoneout and weight drop, naming the check that covers them.
  spec.zoneout = {{"c", 0.5}};
  const std::string refused = "gradcheck: checks stacked and bidirectional networks; turn variable lengths, dropout, "
                              "zoneout and weight drop off (the differential check, verify::compare_with_reference, "
                              "covers them)";
  CHECK_THROWS_WITH(verify::gradcheck(spec), refused);
  spec.zoneout.clear();
  spec.weight_drop = {{"W_hh", 0.5}};
  CHECK_THROWS_WITH(verify::gradcheck(spec), refused);
  CHECK_THROWS_WITH(verify::compare_with_reference(spec, {}),
                    "compare_with_reference: the reference network has no weight drop; compare the network without it "
                    "(a call with weight drop is that network on masked weights: tests/differential/test_weight_drop.cpp)");
  spec.weight_drop.clear();
  // The reference network needs the masks of every zoned state.
  spec.zoneout = {{"c", 0.5}};
  const ir::Graph cell = spec.layers[0].cell;
  ir::ReferenceNetwork net(spec, std::vector<ir::Graph>(2, autodiff::differentiate(cell)));
  ir::LayerValues params(2), states(2);
  for (int l = 0; l < 2; ++l) {
    for (ir::NodeId p : cell.leaves(ir::Op::param)) {
      const ir::Type& t = cell.type(p);
      const ir::Bindings b = ir::layer_bindings(spec, l);
      params[l][cell.node(p).name] = t.is_matrix() ? ir::Array(t.rows.bind(b), t.cols.bind(b)) : ir::Array(1, t.rows.bind(b));
    }
    states[l]["h"] = ir::Array(2, 4);
    states[l]["c"] = ir::Array(2, 4);
  }
  const std::vector<ir::Array> inputs(2, ir::Array(2, 3));
  CHECK_THROWS_WITH(net.forward(params, inputs, states),
                    "zoneout mask of state 'c' of unit 0 is missing; give one [B, S] mask per step for every zoned "
                    "state of every unit");
}

TEST_CASE("errors: reference network forward: wrong inputs, steps, layers, initial states and parameters", "[errors]") {
  const ir::Graph cell = lstm();
  const ir::NetworkSizes sizes = good_sizes();
  const ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  SECTION("wrong number of steps") {
    Values v = good_values(cell, sizes);
    v.inputs.push_back(v.inputs[0]);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states), "inputs have 3 steps; the network is unrolled for 2");
  }
  SECTION("wrong input shape") {
    Values v = good_values(cell, sizes);
    v.inputs[1] = ir::Array(2, 4);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states),
                      "input of layer 0 at step 1 has shape [2, 4]; expected [2, 3]");
    v.inputs[1] = ir::Array(3, 3);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states),
                      "input of layer 0 at step 1 has shape [3, 3]; expected [2, 3]");
  }
  SECTION("wrong initial-state shape") {
    Values v = good_values(cell, sizes);
    v.states[1]["c"] = ir::Array(2, 5);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states),
                      "initial state 'c' of layer 1 has shape [2, 5]; expected [2, 4]");
    v.states[1]["c"] = ir::Array(1, 4);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states),
                      "initial state 'c' of layer 1 has shape [1, 4]; expected [2, 4]");
  }
  SECTION("a missing initial state") {
    Values v = good_values(cell, sizes);
    v.states[0].erase("c");
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states), "no initial value for state 'c' of layer 0");
  }
  SECTION("wrong number of layers") {
    Values v = good_values(cell, sizes);
    v.params.pop_back();
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states),
                      "parameters and initial states are given for 1 and 2 units; the network has 2 (one per layer and "
                    "direction)");
  }
  SECTION("a missing or misshapen parameter") {
    Values v = good_values(cell, sizes);
    v.params[1].erase("W_hh");
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states), "no value given for param 'W_hh' of cell 'lstm'");
    v.params[1]["W_hh"] = ir::Array(16, 3);
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states), "param 'W_hh' has shape [16, 3]; expected [16, 4]");
    v.params[1]["W_hh"] = ir::Array(16, 4);
    v.params[0]["b_ih"] = ir::Array(2, 16);  // a bias per row is not a parameter
    CHECK_THROWS_WITH(net.forward(v.params, v.inputs, v.states), "param 'b_ih' has shape [2, 16]; expected [1, 16]");
  }
}

TEST_CASE("errors: reference network backward: wrong output gradients and final-state gradients", "[errors]") {
  const ir::Graph cell = lstm();
  const ir::NetworkSizes sizes = good_sizes();
  const ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  Values v = good_values(cell, sizes);
  std::vector<ir::Array> one_step = {v.d_outputs[0]};
  CHECK_THROWS_WITH(net.backward(v.params, v.inputs, v.states, one_step, v.states),
                    "output gradients have 1 steps; the network is unrolled for 2");
  ir::LayerValues one_layer = {v.states[0]};
  CHECK_THROWS_WITH(net.backward(v.params, v.inputs, v.states, v.d_outputs, one_layer),
                    "final-state gradients are given for 1 units; the network has 2");
  std::vector<ir::Array> narrow = {ir::Array(2, 3), ir::Array(2, 3)};
  CHECK_THROWS_WITH(net.backward(v.params, v.inputs, v.states, narrow, v.states),
                    "output gradient at step 0 has shape [2, 3]; expected [2, 4]");
}

// BUG (reported): ReferenceNetwork::backward reads each state's final gradient with
// `d_states.at(n.seed_of)` (reference_network.cpp), so a missing entry escapes as
// std::out_of_range ("map::at") instead of a UserError naming the state and the layer.
TEST_CASE("errors: reference network backward: a missing final-state gradient is a UserError naming the state",
          "[errors]") {
  const ir::Graph cell = lstm();
  const ir::NetworkSizes sizes = good_sizes();
  const ir::ReferenceNetwork net(cell, autodiff::differentiate(cell), sizes);
  Values v = good_values(cell, sizes);
  ir::LayerValues d_final = v.states;
  d_final[1].erase("c");
  try {
    net.backward(v.params, v.inputs, v.states, v.d_outputs, d_final);
    FAIL("no error for a missing final-state gradient");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains("'c'") && Catch::Contains("layer 1"));
  } catch (const std::exception& e) {
    FAIL("not a UserError: " << e.what());
  }
}

TEST_CASE("errors: interpreter: a batch below 1, a missing leaf, a wrong shape, an unbound size", "[errors]") {
  const ir::Graph cell = zoo::find("rnn").build();
  const ir::Bindings b = {{"X", 3}, {"H", 4}};
  ir::LeafValues leaves = {{"x", ir::Array(2, 3)},    {"h", ir::Array(2, 4)},    {"W_ih", ir::Array(4, 3)},
                           {"b_ih", ir::Array(1, 4)}, {"W_hh", ir::Array(4, 4)}, {"b_hh", ir::Array(1, 4)}};
  CHECK_NOTHROW(ir::evaluate(cell, b, 2, leaves));
  CHECK_THROWS_WITH(ir::evaluate(cell, b, 0, leaves), "batch size must be >= 1, got 0");
  CHECK_THROWS_WITH(ir::evaluate(cell, {{"X", 3}}, 2, leaves),
                    "size 'H' is used by the cell (in [H]) but was not given; pass a value for 'H' in the sizes");
  leaves["x"] = ir::Array(1, 3);
  CHECK_THROWS_WITH(ir::evaluate(cell, b, 2, leaves), "input 'x' has shape [1, 3]; expected [2, 3]");
  leaves.erase("x");
  CHECK_THROWS_WITH(ir::evaluate(cell, b, 2, leaves), "no value given for input 'x' of cell 'rnn'");
}

TEST_CASE("errors: zoo::find of an unknown name lists the known names", "[errors]") {
  CHECK_THROWS_WITH(zoo::find("transformer"),
                    "unknown cell 'transformer'; the zoo has: rnn, rnn_relu, lstm, gru, gru_classic, peephole_lstm, "
                    "cifg_lstm, lstmp, layernorm_lstm, mlstm, mgu, janet, indrnn, sru (cellforge cells lists them "
                    "with their equations)");
  CHECK_THROWS_AS(zoo::find(""), UserError);
  CHECK_THROWS_AS(zoo::find("LSTM"), UserError);  // names are exact
}
