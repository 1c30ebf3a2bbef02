// Whole-network BPTT against central differences, for any cell and any network sizes (including
// a cell's own sizes, sizes.extra): ir::ReferenceNetwork's backward pass, built on
// autodiff::differentiate, must give the gradient of
//
//   L = sum_t <dy_t, y_t> + sum_layers sum_states <ds_T, s_T>
//
// with respect to every parameter of every layer, every input step and every initial state, with
// non-zero random initial states and non-zero seeds on the outputs and the final states. The oracle
// is central differences of L from the reference forward pass, compared by gradcheck.hpp's
// allclose rule (which fails on NaN). tests/gradcheck/test_bptt.cpp checks the basic cells the same
// way with its own copy of this loop; this header serves cells whose sizes it does not fix.
#pragma once

#include <string>
#include <vector>

#include "codegen/ir/reference_network.hpp"
#include "support/gradcheck.hpp"

namespace cellforge::testing {

struct NetworkProblem {
  ir::LayerValues params, states, d_final_states;
  std::vector<ir::Array> inputs, d_outputs;
};

/// Weights in [-0.6, 0.6] keep tanh and sigmoid away from saturation; inputs, states and seeds
/// in [-1, 1].
inline NetworkProblem random_network_problem(const ir::Graph& cell, const ir::NetworkSizes& sizes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  NetworkProblem p;
  const Range weights{-0.6, 0.6, false}, values{-1, 1, false};
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const ir::Bindings b = ir::layer_bindings(cell, sizes, l);
    p.params.push_back(random_leaves(cell, b, sizes.batch, {ir::Op::param}, weights, rng));
    p.states.push_back(random_leaves(cell, b, sizes.batch, {ir::Op::state}, values, rng));
    p.d_final_states.push_back(random_leaves(cell, b, sizes.batch, {ir::Op::state}, values, rng));
  }
  const ir::Bindings top = ir::layer_bindings(cell, sizes, sizes.layers - 1);
  const int64_t output_length =
      cell.type(cell.find_output(ir::Role::output, ir::output_name(cell))->node).rows.bind(top);
  for (int64_t t = 0; t < sizes.unroll; ++t) {
    p.inputs.push_back(random_array(sizes.batch, sizes.input, values, rng));
    p.d_outputs.push_back(random_array(sizes.batch, output_length, values, rng));
  }
  return p;
}

/// Compares every gradient of `net`'s BPTT on problem `p` (one unit per layer) with central
/// differences of L; `extras` go to every call (the masks of zoneout or dropout, held fixed).
inline Comparison check_network_bptt(const ir::ReferenceNetwork& net, NetworkProblem p, const ir::CallExtras& extras = {}) {
  const ir::NetworkSizes& sizes = net.sizes();
  const ir::ReferenceGradients grads = net.backward(p.params, p.inputs, p.states, p.d_outputs, p.d_final_states, extras);

  auto loss = [&] {
    const ir::ReferenceForward f = net.forward(p.params, p.inputs, p.states, extras);
    double total = 0;
    for (int64_t t = 0; t < sizes.unroll; ++t) total += inner(p.d_outputs[t], f.outputs[t]);
    for (int64_t l = 0; l < sizes.layers; ++l)
      for (const auto& [name, ds] : p.d_final_states[l]) total += inner(ds, f.final_states[l].at(name));
    return total;
  };
  Comparison result;
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const std::string layer = "layer " + std::to_string(l) + " ";
    for (auto& [name, value] : p.params[l]) {
      auto it = grads.params[l].find(name);
      check_elements(result, layer + "d" + name, value, it == grads.params[l].end() ? nullptr : &it->second, loss);
    }
    for (auto& [name, value] : p.states[l]) {
      auto it = grads.initial_states[l].find(name);
      check_elements(result, layer + "d" + name + "_0", value,
                     it == grads.initial_states[l].end() ? nullptr : &it->second, loss);
    }
  }
  if (grads.inputs.size() != static_cast<size_t>(sizes.unroll)) {
    result.add("the number of input gradients", static_cast<double>(grads.inputs.size()),
               static_cast<double>(sizes.unroll));
    return result;
  }
  for (int64_t t = 0; t < sizes.unroll; ++t)
    check_elements(result, "dx_" + std::to_string(t), p.inputs[t], &grads.inputs[t], loss);
  return result;
}

/// The same for sizes.layers copies of `cell` on a random problem drawn from `seed`.
inline Comparison check_network_bptt(const ir::Graph& cell, const ir::Graph& backward, const ir::NetworkSizes& sizes,
                                     uint64_t seed) {
  return check_network_bptt(ir::ReferenceNetwork(cell, backward, sizes), random_network_problem(cell, sizes, seed));
}

}  // namespace cellforge::testing
