// The step Jacobian of a recurrent cell, J_t = ds_t/ds_{t-1} for the full state s (h, or h and c
// side by side), as compiled Jacobian-vector and vector-Jacobian products, and the spectral
// quantities gradient-flow analysis needs: the largest singular value of J_t at every step
// (Lanczos iteration on J^T J) and of every recurrent weight matrix.
//
// Both products are compiled once as stateless networks (passes::pack_step_inputs) and evaluate
// every step and every row of a sequence in one call, so power iteration over a whole sequence
// costs two calls per iteration.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "codegen/jit/compiled_network.hpp"

namespace cellforge::gradflow {

class StepJacobian {
 public:
  /// `params`: the cell's parameters by name (row-major floats). `input_width`: the step's input
  /// size X; `rows`: sequences; `steps`: steps of each sequence evaluated per call.
  StepJacobian(const ir::Graph& cell, int64_t input_width, int64_t hidden, const ir::Bindings& extra, int64_t rows,
               int64_t steps, const std::map<std::string, std::vector<float>>& params, const NetworkOptions& options = {});

  /// The width of the full state s (the cell's states side by side, in declaration order).
  int64_t state_width() const { return state_width_; }
  const std::vector<std::string>& state_names() const { return state_names_; }

  /// out = J v for every (step, row): x [T][B][X], s (the state entering each step) [T][B][S],
  /// v and out [T][B][S].
  void jvp(std::span<const float> x, std::span<const float> s, std::span<const float> v, std::span<float> out);
  /// out = J^T u for every (step, row).
  void vjp(std::span<const float> x, std::span<const float> s, std::span<const float> u, std::span<float> out);

  /// The largest singular value of J at every (step, row) ([T][B]), by `iterations` Lanczos steps
  /// on J^T J (at most the state width; each is one JVP and one VJP call) from a random start.
  std::vector<double> largest_singular_values(std::span<const float> x, std::span<const float> s, int iterations = 40,
                                              uint64_t seed = 1);

 private:
  void run(CompiledNetwork& net, std::span<const float> x, std::span<const float> s, std::span<const float> v,
           std::span<float> out);

  int64_t input_width_, rows_, steps_, state_width_ = 0;
  std::vector<std::string> state_names_;
  std::vector<float> jvp_params_, vjp_params_;
  CompiledNetwork jvp_, vjp_;
  std::vector<float> packed_;
};

/// The largest singular value of a row-major [rows, cols] matrix (power iteration on W^T W, in
/// double, until the estimate changes by less than 1e-10 relative or 500 iterations).
double largest_singular_value(std::span<const float> matrix, int64_t rows, int64_t cols);

/// The parameters of `cell` that multiply a value depending on a state (the recurrent weights).
std::vector<std::string> recurrent_weights(const ir::Graph& cell);

}  // namespace cellforge::gradflow
