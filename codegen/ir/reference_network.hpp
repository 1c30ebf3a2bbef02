// The reference network: L stacked copies of a cell run over T steps for a batch of B sequences,
// and backpropagation through time, all by the reference interpreter in double precision. Layer l
// reads layer l-1's output; the network's output is the top layer's output at every step.
//
// It is deliberately the plainest possible BPTT: forward step by step keeping every step's leaf
// values, then backward step by step from the last, running the backward step graph with the
// gradient of each state coming from the step after it. The JIT's results are checked against it,
// and finite differences check it.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/interpreter.hpp"

namespace cellforge::ir {

/// The sizes of a network of stacked cells.
struct NetworkSizes {
  int64_t input = 0;   // X: features of the network's input at each step
  int64_t hidden = 0;  // H
  int64_t batch = 0;   // B: sequences run side by side
  int64_t unroll = 0;  // T: steps
  int64_t layers = 1;  // L: stacked copies of the cell
  Bindings extra;      // the cell's other sizes, e.g. {"P": 64}
};

/// Checks the sizes against the cell: every size >= 1, every size the cell names is given, the
/// cell has one input. Throws UserError naming the size, its value and the fix.
void check_sizes(const Graph& cell, const NetworkSizes& sizes);

/// The bindings of layer `layer`: X is the network's input size for layer 0 and the previous
/// layer's output length above it; H and the extra sizes are the same for all layers.
Bindings layer_bindings(const Graph& cell, const NetworkSizes& sizes, int64_t layer);

/// The name of the cell's single input and single output.
std::string input_name(const Graph& cell);
std::string output_name(const Graph& cell);

/// Per-layer values by leaf name: parameters of each layer, or states of each layer.
using LayerValues = std::vector<LeafValues>;

struct ReferenceForward {
  std::vector<Array> outputs;  // per step: [B, output length] of the top layer
  LayerValues final_states;    // per layer: the states after the last step, by name
};

struct ReferenceGradients {
  LayerValues params;          // per layer: dL/dW by parameter name
  std::vector<Array> inputs;   // per step: dL/dx_t [B, X]
  LayerValues initial_states;  // per layer: dL/ds_0 by state name
};

class ReferenceNetwork {
 public:
  /// `backward` is the cell's backward step graph (autodiff::differentiate(cell)).
  ReferenceNetwork(Graph cell, Graph backward, NetworkSizes sizes);

  ReferenceForward forward(const LayerValues& params, const std::vector<Array>& inputs,
                           const LayerValues& initial_states) const;

  /// BPTT: the gradients of L = sum_t <d_outputs[t], y_t> + sum_l,s <d_final_states[l][s], s_T>.
  ReferenceGradients backward(const LayerValues& params, const std::vector<Array>& inputs,
                              const LayerValues& initial_states, const std::vector<Array>& d_outputs,
                              const LayerValues& d_final_states) const;

  const Graph& cell() const { return cell_; }
  const Graph& backward_graph() const { return backward_; }
  const NetworkSizes& sizes() const { return sizes_; }

 private:
  // Runs the forward pass; when `trace` is given, keeps every (layer, step)'s leaf values.
  ReferenceForward run(const LayerValues& params, const std::vector<Array>& inputs, const LayerValues& initial_states,
                       std::vector<std::vector<LeafValues>>* trace) const;

  Graph cell_;
  Graph backward_;
  NetworkSizes sizes_;
};

}  // namespace cellforge::ir
