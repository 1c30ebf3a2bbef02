// Network specs and their sizes; see network_spec.hpp.
#include "codegen/ir/network_spec.hpp"

#include <cmath>

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

NetworkSpec NetworkSpec::stack(const Graph& cell, const NetworkSizes& sizes) {
  NetworkSpec spec;
  spec.sizes = sizes;
  for (int64_t l = 0; l < sizes.layers; ++l) spec.layers.push_back({cell, false});
  return spec;
}

std::vector<Unit> units(const NetworkSpec& spec) {
  std::vector<Unit> out;
  for (int64_t l = 0; l < static_cast<int64_t>(spec.layers.size()); ++l)
    for (int64_t d = 0; d < spec.directions(l); ++d) out.push_back({l, d});
  return out;
}

std::string input_name(const Graph& cell) {
  std::vector<std::string> names;
  for (NodeId id : cell.leaves(Op::input)) {
    const std::string& name = cell.node(id).name;
    if (name != kStepMask && name != kDropoutMask) names.push_back(name);
  }
  if (names.size() != 1)
    user_error("cell '", cell.name(), "' has ", names.size(),
               " inputs; a layer of a network feeds exactly one input vector to its cell");
  return names[0];
}

std::string output_name(const Graph& cell) {
  for (const Output& o : cell.outputs())
    if (o.role == Role::output) return o.name;
  user_error("cell '", cell.name(), "' has no output");
}

Bindings layer_bindings(const NetworkSpec& spec, int64_t layer) {
  Bindings b = spec.sizes.extra;
  b["H"] = spec.sizes.hidden;
  b["X"] = layer == 0 ? spec.sizes.input : layer_output_width(spec, layer - 1);
  return b;
}

int64_t layer_output_width(const NetworkSpec& spec, int64_t layer) {
  const Graph& cell = spec.layers.at(static_cast<size_t>(layer)).cell;
  const Bindings b = layer_bindings(spec, layer);
  return spec.directions(layer) * cell.type(cell.find_output(Role::output, output_name(cell))->node).rows.bind(b);
}

void check_spec(const NetworkSpec& spec) {
  const NetworkSizes& sizes = spec.sizes;
  auto positive = [](const char* name, int64_t value, const char* fix) {
    if (value < 1) user_error(name, " must be >= 1, got ", value, "; ", fix);
  };
  positive("input size", sizes.input, "pass the number of features of x_t");
  positive("hidden size", sizes.hidden, "pass the number of hidden units H");
  positive("batch size", sizes.batch, "run at least one sequence");
  positive("unroll length", sizes.unroll, "run at least one step");
  positive("number of layers", sizes.layers, "stack at least one cell");
  if (static_cast<int64_t>(spec.layers.size()) != sizes.layers)
    user_error("the network lists ", spec.layers.size(), " layers but its sizes say ", sizes.layers);
  if (!(spec.dropout >= 0 && spec.dropout < 1))
    user_error("dropout must be a probability in [0, 1), got ", spec.dropout);
  for (const auto& [name, value] : sizes.extra) {
    if (name == "X" || name == "H")
      user_error("size '", name, "' is given as an extra size; set it through the input or hidden size instead");
    if (value < 1) user_error("size '", name, "' must be >= 1, got ", value);
  }
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const Graph& cell = spec.layers[static_cast<size_t>(l)].cell;
    for (NodeId id : cell.leaves(Op::input))
      if ((cell.node(id).name == kStepMask || cell.node(id).name == kDropoutMask))
        user_error("cell '", cell.name(), "' has an input named '", cell.node(id).name,
                   "', a name cellforge reserves for the inputs it adds; rename it");
    input_name(cell);
    output_name(cell);
    Bindings b = layer_bindings(spec, l);
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

void check_sizes(const Graph& cell, const NetworkSizes& sizes) {
  check_spec(NetworkSpec::stack(cell, sizes));
}

Bindings layer_bindings(const Graph& cell, const NetworkSizes& sizes, int64_t layer) {
  NetworkSizes one = sizes;
  one.layers = std::max<int64_t>(sizes.layers, layer + 1);
  return layer_bindings(NetworkSpec::stack(cell, one), layer);
}

}  // namespace cellforge::ir
