// Differential check of a compiled network: runs it through both the JIT (float32) and the
// reference interpreter (double) on the same random weights, inputs, initial states and output
// gradients, and measures how far apart every result is — outputs, final states, and the
// gradients of every parameter, input step and initial state. The differential tests, the fuzzer
// and `cellforge check` use it; a user checks a new cell with it (examples/03_custom_gated_cell).
//
//   verify::Comparison c = verify::compare_with_reference(cell, {.input = 5, .hidden = 7,
//                                                                .batch = 3, .unroll = 4, .layers = 2}, {});
//   c.worst.relative  // largest |jit - reference| / max(1, max |reference|) over one tensor
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "codegen/llvm/network_plan.hpp"

namespace cellforge::verify {

/// The largest |a - b| over a tensor, relative to the largest |b| (at least 1), and whether any
/// element is non-finite in one but not the other (which always fails).
struct Difference {
  double relative = 0;
  bool nonfinite_mismatch = false;
  std::string where;  // the worst tensor
};

struct Comparison {
  Difference worst;
  std::vector<std::pair<std::string, double>> tensors;  // name, relative difference
  void add(const std::string& name, const std::vector<float>& actual, const std::vector<double>& expected);
};

struct HarnessOptions {
  uint64_t seed = 1;
  double weight_scale = 0.5;  // uniform(-s, s), scaled by 1/sqrt(fan-in) for matrices
  double input_scale = 1.0;
  int threads = 1;
  passes::PassOptions passes;
  bool training = true;  // false: an evaluation call (no dropout; zoneout blends by its rates)
};

/// Compiles `cell` for `sizes`, runs forward and backward in both engines, and compares outputs,
/// final states, and the gradients of parameters, inputs and initial states.
Comparison compare_with_reference(const ir::Graph& cell, const ir::NetworkSizes& sizes, const HarnessOptions& options);

/// The same for any network: with variable lengths, random lengths in [1, T] (one of them T); with
/// dropout or zoneout, the masks the compiled network drew (read back from its workspace) go to the
/// reference; with a one-hot input, random indices (the reference gets their one-hot rows); without
/// an input gradient, no dx is compared.
Comparison compare_with_reference(const ir::NetworkSpec& spec, const HarnessOptions& options);

/// A table of every tensor's difference, worst first marked.
std::string comparison_table(const Comparison& comparison);

}  // namespace cellforge::verify
