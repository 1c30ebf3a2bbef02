// The reference interpreter: runs step graphs in double precision, one op at a time, with no
// fusion, no vectorization and libm activations. It is the oracle the JIT is tested against and
// the function finite-difference gradient checks differentiate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

/// A dense row-major array of doubles. A per-row vector value of a batch is [batch, n]; a shared
/// vector is [1, n]; a matrix parameter is [rows, cols].
struct Array {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> data;

  Array() = default;
  Array(int64_t r, int64_t c, double fill = 0.0) : rows(r), cols(c), data(static_cast<size_t>(r * c), fill) {}
  double& at(int64_t r, int64_t c) { return data[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
};

/// Values of the leaves by name (inputs, states, parameters, seeds, saved values).
using LeafValues = std::map<std::string, Array>;

/// Evaluates every node of `graph` for a batch of `batch` rows, under the size `bindings`.
/// Returns one Array per node, indexed by NodeId. Throws UserError when a leaf value is missing or
/// has the wrong shape.
std::vector<Array> evaluate(const Graph& graph, const Bindings& bindings, int64_t batch, const LeafValues& leaves);

/// The values of the graph's results, by (role, name): "next h", "output y", "grad W".
std::map<std::string, Array> evaluate_outputs(const Graph& graph, const Bindings& bindings, int64_t batch,
                                              const LeafValues& leaves);

/// "next h", "grad W": the key of a result in evaluate_outputs().
std::string output_key(Role role, const std::string& name);

}  // namespace cellforge::ir
