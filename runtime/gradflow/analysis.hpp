// Gradient-flow analysis of a network: how much of a gradient at the last step reaches each
// earlier step, state by state and layer by layer, and why.
//
// The loss reads only the last step's output, L = <u, y_T> for a random unit vector u, so every
// gradient an earlier state gets has travelled back through the steps in between. The compiled
// BPTT reports ||dL/ds|| of every state at every step (gradient telemetry, inside the generated
// code), the forward pass the saturation of every named gate, and the step Jacobians
// J_t = ds_t/ds_{t-1} their largest singular values (Lanczos on compiled J^T J products): a vanilla
// RNN's sigma_max below 1 makes ||dL/dh_{T-k}|| shrink geometrically with k; an LSTM's cell state
// carries the gradient through f_t alone, a path without a matrix product.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/network_spec.hpp"
#include "codegen/jit/compiled_network.hpp"

namespace cellforge::gradflow {

struct Setup {
  ir::Graph cell;
  ir::NetworkSizes sizes;        // input, hidden, batch, unroll, layers (+ extra sizes)
  double weight_scale = 1.0;     // weights uniform in +-scale/sqrt(fan-in); vectors +-scale/sqrt(rows)
  double forget_bias = 0.0;      // added to the bias of a gate named "f" (the LSTM's forget gate)
  uint64_t seed = 1;
  int lanczos_steps = 40;        // 0: skip the step Jacobians
  int threads = 1;
};

/// One line of the report: a state of one layer (and direction).
struct StateFlow {
  int64_t layer;
  int64_t direction;
  std::string state;
  std::vector<double> norm;  // norm[k] = ||dL/ds|| of the state k steps before the last step
                             // (0: the state the last step reads), k = 0..T-1
};

struct Report {
  std::string cell;
  ir::NetworkSizes sizes;
  std::vector<StateFlow> states;
  std::vector<TelemetryValues> gate_saturation;        // per named gate: fraction saturated per step
  std::vector<std::vector<double>> jacobian_sigma_max;  // per layer: sigma_max of J_t per step (mean over rows)
  std::vector<std::pair<std::string, double>> weight_sigma_max;  // "layer 0 W_hh" -> sigma_max
  // The network's parameters as initialized, and dL/dparameters from the same BPTT (layout:
  // CompiledNetwork::parameters()), e.g. to show what gradient clipping does to the update.
  std::vector<ParameterInfo> parameter_info;
  std::vector<float> parameters;
  std::vector<float> parameter_gradients;
};

/// Compiles the network with telemetry, runs forward and BPTT with the loss at the last step, and
/// measures everything in the report.
Report analyze(const Setup& setup);

/// The report as a table (text), CSV (one row per k and state), JSON, and SVG plots: gradient norm
/// against steps back (log scale, one line per layer and state), and sigma_max per step.
std::string report_table(const Report& report);
std::string report_csv(const Report& report);
std::string report_json(const Report& report);
/// Writes <prefix>.csv, <prefix>.json, <prefix>_norms.svg and <prefix>_sigma.svg; returns the paths.
std::vector<std::string> write_report(const Report& report, const std::string& prefix);

}  // namespace cellforge::gradflow
