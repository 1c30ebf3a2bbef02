// The reference network and BPTT; see reference_network.hpp.
#include "codegen/ir/reference_network.hpp"

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

namespace {

std::string single_leaf(const Graph& cell, Op kind, const char* what) {
  std::vector<NodeId> leaves = cell.leaves(kind);
  if (leaves.size() != 1)
    user_error("cell '", cell.name(), "' has ", leaves.size(), " ", what,
               "s; a layer of a network feeds exactly one input vector to its cell");
  return cell.node(leaves[0]).name;
}

void check_array(const Array& a, int64_t rows, int64_t cols, const std::string& what) {
  if (a.rows != rows || a.cols != cols)
    user_error(what, " has shape [", a.rows, ", ", a.cols, "]; expected [", rows, ", ", cols, "]");
}

}  // namespace

std::string input_name(const Graph& cell) { return single_leaf(cell, Op::input, "input"); }

std::string output_name(const Graph& cell) {
  for (const Output& o : cell.outputs())
    if (o.role == Role::output) return o.name;
  user_error("cell '", cell.name(), "' has no output");
}

void check_sizes(const Graph& cell, const NetworkSizes& sizes) {
  auto positive = [](const char* name, int64_t value, const char* fix) {
    if (value < 1) user_error(name, " must be >= 1, got ", value, "; ", fix);
  };
  positive("input size", sizes.input, "pass the number of features of x_t");
  positive("hidden size", sizes.hidden, "pass the number of hidden units H");
  positive("batch size", sizes.batch, "run at least one sequence");
  positive("unroll length", sizes.unroll, "run at least one step");
  positive("number of layers", sizes.layers, "stack at least one cell");
  for (const auto& [name, value] : sizes.extra) {
    if (name == "X" || name == "H")
      user_error("size '", name, "' is given as an extra size; set it through the input or hidden size instead");
    if (value < 1) user_error("size '", name, "' must be >= 1, got ", value);
  }
  input_name(cell);
  for (int64_t l = 0; l < sizes.layers; ++l) {
    Bindings b = layer_bindings(cell, sizes, l);
    for (NodeId id = 0; id < cell.size(); ++id) {
      const Type& t = cell.type(id);
      for (const Dim* d : {&t.rows, &t.cols}) {
        if (d->is_zero() && d == &t.cols) continue;
        if (d->bind(b) < 1)
          user_error("cell '", cell.name(), "' needs [", d->str(), "] = ", d->bind(b), " at layer ", l,
                     "; every length must be >= 1");
      }
    }
  }
}

Bindings layer_bindings(const Graph& cell, const NetworkSizes& sizes, int64_t layer) {
  Bindings b = sizes.extra;
  b["H"] = sizes.hidden;
  b["X"] = sizes.input;
  if (layer > 0) {
    Bindings below = layer_bindings(cell, sizes, layer - 1);
    b["X"] = cell.type(cell.find_output(Role::output, output_name(cell))->node).rows.bind(below);
  }
  return b;
}

ReferenceNetwork::ReferenceNetwork(Graph cell, Graph backward, NetworkSizes sizes)
    : cell_(std::move(cell)), backward_(std::move(backward)), sizes_(std::move(sizes)) {
  check_sizes(cell_, sizes_);
}

ReferenceForward ReferenceNetwork::run(const LayerValues& params, const std::vector<Array>& inputs,
                                       const LayerValues& initial_states,
                                       std::vector<std::vector<LeafValues>>* trace) const {
  const auto& s = sizes_;
  if (static_cast<int64_t>(inputs.size()) != s.unroll)
    user_error("inputs have ", inputs.size(), " steps; the network is unrolled for ", s.unroll);
  if (static_cast<int64_t>(params.size()) != s.layers || static_cast<int64_t>(initial_states.size()) != s.layers)
    user_error("parameters and initial states are given for ", params.size(), " and ", initial_states.size(),
               " layers; the network has ", s.layers);
  const std::string x_name = input_name(cell_);
  const std::string y_name = output_name(cell_);
  std::vector<Array> layer_inputs = inputs;
  ReferenceForward result;
  if (trace) trace->assign(static_cast<size_t>(s.layers), {});
  for (int64_t l = 0; l < s.layers; ++l) {
    Bindings b = layer_bindings(cell_, s, l);
    LeafValues leaves = params[l];
    LeafValues states = initial_states[l];
    for (NodeId st : cell_.leaves(Op::state)) {
      const std::string& name = cell_.node(st).name;
      auto it = states.find(name);
      if (it == states.end()) user_error("no initial value for state '", name, "' of layer ", l);
      check_array(it->second, s.batch, cell_.type(st).rows.bind(b), "initial state '" + name + "' of layer " +
                                                                        std::to_string(l));
    }
    std::vector<Array> outputs;
    for (int64_t t = 0; t < s.unroll; ++t) {
      check_array(layer_inputs[t], s.batch, b.at("X"), "input of layer " + std::to_string(l) + " at step " +
                                                           std::to_string(t));
      leaves[x_name] = layer_inputs[t];
      for (const auto& [name, value] : states) leaves[name] = value;
      if (trace) (*trace)[l].push_back(leaves);
      auto out = evaluate_outputs(cell_, b, s.batch, leaves);
      for (auto& [name, value] : states) value = out.at(output_key(Role::next, name));
      outputs.push_back(out.at(output_key(Role::output, y_name)));
    }
    result.final_states.push_back(states);
    layer_inputs = std::move(outputs);
  }
  result.outputs = std::move(layer_inputs);
  return result;
}

ReferenceForward ReferenceNetwork::forward(const LayerValues& params, const std::vector<Array>& inputs,
                                           const LayerValues& initial_states) const {
  return run(params, inputs, initial_states, nullptr);
}

ReferenceGradients ReferenceNetwork::backward(const LayerValues& params, const std::vector<Array>& inputs,
                                              const LayerValues& initial_states, const std::vector<Array>& d_outputs,
                                              const LayerValues& d_final_states) const {
  const auto& s = sizes_;
  std::vector<std::vector<LeafValues>> trace;
  run(params, inputs, initial_states, &trace);
  if (static_cast<int64_t>(d_outputs.size()) != s.unroll)
    user_error("output gradients have ", d_outputs.size(), " steps; the network is unrolled for ", s.unroll);
  if (static_cast<int64_t>(d_final_states.size()) != s.layers)
    user_error("final-state gradients are given for ", d_final_states.size(), " layers; the network has ", s.layers);
  const std::string x_name = input_name(cell_);
  ReferenceGradients grads;
  grads.params.resize(static_cast<size_t>(s.layers));
  grads.initial_states.resize(static_cast<size_t>(s.layers));
  std::vector<Array> d_layer_outputs = d_outputs;
  for (int64_t l = s.layers; l-- > 0;) {
    Bindings b = layer_bindings(cell_, s, l);
    LeafValues d_states = d_final_states[l];
    // Parameter gradients start at zero.
    for (NodeId p : cell_.leaves(Op::param)) {
      const Type& t = cell_.type(p);
      grads.params[l][cell_.node(p).name] =
          t.is_matrix() ? Array(t.rows.bind(b), t.cols.bind(b)) : Array(1, t.rows.bind(b));
    }
    std::vector<Array> d_inputs(static_cast<size_t>(s.unroll), Array(s.batch, b.at("X")));
    for (int64_t t = s.unroll; t-- > 0;) {
      LeafValues leaves = trace[l][t];
      for (NodeId seed : backward_.leaves(Op::seed)) {
        const Node& n = backward_.node(seed);
        if (n.seed_role == Role::next && !d_states.count(n.seed_of))
          user_error("no gradient given for the final state '", n.seed_of, "' of layer ", l,
                     "; pass dL/ds_T for every state (zeros if the loss does not read it)");
        const Array& value = n.seed_role == Role::next ? d_states.at(n.seed_of) : d_layer_outputs[t];
        leaves[n.name] = value;
      }
      auto out = evaluate_outputs(backward_, b, s.batch, leaves);
      for (NodeId st : cell_.leaves(Op::state)) {
        const std::string& name = cell_.node(st).name;
        auto it = out.find(output_key(Role::grad, name));
        d_states[name] = it != out.end() ? it->second : Array(s.batch, cell_.type(st).rows.bind(b));
      }
      auto dx = out.find(output_key(Role::grad, x_name));
      if (dx != out.end()) d_inputs[t] = dx->second;
      for (auto& [name, total] : grads.params[l]) {
        auto g = out.find(output_key(Role::grad, name));
        if (g == out.end()) continue;
        for (size_t i = 0; i < total.data.size(); ++i) total.data[i] += g->second.data[i];
      }
    }
    grads.initial_states[l] = d_states;
    d_layer_outputs = std::move(d_inputs);
  }
  grads.inputs = std::move(d_layer_outputs);
  return grads;
}

}  // namespace cellforge::ir
