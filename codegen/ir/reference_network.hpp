// The reference network: a network of stacked cells (network_spec.hpp) run over T steps for a
// batch of B sequences, and backpropagation through time, all by the reference interpreter in
// double precision. Layer l reads layer l-1's output; the network's output is the top layer's
// output at every step.
//
// It is deliberately the plainest possible BPTT: forward step by step keeping every step's leaf
// values, then backward step by step from the last, running the backward step graph with the
// gradient of each state coming from the step after it. Padding, bidirectional layers, dropout and
// zoneout are done here directly, row by row and step by step — not by the graph transformations the
// compiler uses for them — so that the reference checks those transformations too. The JIT's
// results are checked against it, and finite differences check it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/interpreter.hpp"
#include "codegen/ir/network_spec.hpp"

namespace cellforge::ir {

/// Values by leaf name for each unit (each layer of a stack of one-direction layers): its
/// parameters, or its states.
using LayerValues = std::vector<LeafValues>;

/// What a call gives besides inputs and states.
struct CallExtras {
  std::vector<int64_t> lengths;                   // variable_lengths: each sequence's length, in [1, T]
  std::vector<std::vector<Array>> dropout_masks;  // dropout > 0: [layer][step] -> [B, input width], 0 or 1/(1-p);
                                                  // layer 0's entry is empty (no dropout on the network's input)
  /// zoneout: per unit, for each zoned state, per step: [B, S], 1 where the state keeps its previous
  /// value and 0 where it takes the new one (or the zoneout rate, in evaluation)
  std::vector<std::map<std::string, std::vector<Array>>> zoneout_masks;
};

struct ReferenceForward {
  std::vector<Array> outputs;  // per step: [B, output width] of the top layer
  LayerValues final_states;    // per unit: the states after its last step, by name
};

struct ReferenceGradients {
  LayerValues params;          // per unit: dL/dW by parameter name
  std::vector<Array> inputs;   // per step: dL/dx_t [B, X]
  LayerValues initial_states;  // per unit: dL/ds_0 by state name
  /// per unit, per history index i in [0, T]: dL/d(the state between steps i-1 and i) by name
  std::vector<std::vector<LeafValues>> state_gradients;
};

class ReferenceNetwork {
 public:
  /// `backward[l]` is the backward step graph of layer l's cell (autodiff::differentiate).
  ReferenceNetwork(NetworkSpec spec, std::vector<Graph> backward);
  /// sizes.layers copies of `cell`, one direction each.
  ReferenceNetwork(Graph cell, Graph backward, NetworkSizes sizes);

  ReferenceForward forward(const LayerValues& params, const std::vector<Array>& inputs,
                           const LayerValues& initial_states, const CallExtras& extras = {}) const;

  /// BPTT: the gradients of L = sum_t <d_outputs[t], y_t> + sum_units,s <d_final_states[u][s], s_T>.
  ReferenceGradients backward(const LayerValues& params, const std::vector<Array>& inputs,
                              const LayerValues& initial_states, const std::vector<Array>& d_outputs,
                              const LayerValues& d_final_states, const CallExtras& extras = {}) const;

  /// The value of every node of each unit's cell at every step of the forward pass: [unit][step]
  /// -> one Array per NodeId (for inspection and tests: gate values, pre-activations).
  std::vector<std::vector<std::vector<Array>>> node_values(const LayerValues& params, const std::vector<Array>& inputs,
                                                           const LayerValues& initial_states,
                                                           const CallExtras& extras = {}) const;

  const NetworkSpec& spec() const { return spec_; }
  const NetworkSizes& sizes() const { return spec_.sizes; }
  const Graph& cell() const { return spec_.layers.at(0).cell; }
  const Graph& backward_graph() const { return backward_.at(0); }

 private:
  struct Trace;
  ReferenceForward run(const LayerValues& params, const std::vector<Array>& inputs, const LayerValues& initial_states,
                       const CallExtras& extras, Trace* trace) const;
  bool padded(const CallExtras& extras, int64_t step, int64_t row) const;
  const Array& zoneout_mask(const CallExtras& extras, size_t unit, int64_t layer, const std::string& state,
                            int64_t step) const;

  NetworkSpec spec_;
  std::vector<Graph> backward_;
};

}  // namespace cellforge::ir
