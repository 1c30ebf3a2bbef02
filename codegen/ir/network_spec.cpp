// Network specs and their sizes; see network_spec.hpp.
#include "codegen/ir/network_spec.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

namespace {

void check_layer_count(int64_t layers) {
  if (layers > kMaxLayers)
    user_error("number of layers must be <= ", kMaxLayers, ", got ", layers,
               "; every layer is compiled into code of its own, so stack fewer layers");
}

std::string bytes_text(double bytes) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) bytes /= 1000, ++u;
  char text[64];
  std::snprintf(text, sizeof text, bytes >= 1000 ? "%.3g %s" : "%.1f %s", bytes, units[u]);
  return text;
}

// This machine's memory in bytes (0 if the system does not say).
double physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

}  // namespace

NetworkSpec NetworkSpec::stack(const Graph& cell, const NetworkSizes& sizes) {
  check_layer_count(sizes.layers);  // before making a copy of the cell per layer
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

bool is_added_input(const std::string& name) {
  return name == kStepMask || name == kDropoutMask || name.rfind(kZoneoutMaskPrefix, 0) == 0;
}

std::vector<std::string> NetworkSpec::zoned_states(int64_t layer) const {
  std::vector<std::string> out;
  const Graph& cell = layers.at(static_cast<size_t>(layer)).cell;
  for (NodeId id : cell.leaves(Op::state)) {
    auto it = zoneout.find(cell.node(id).name);
    if (it != zoneout.end() && it->second > 0) out.push_back(it->first);
  }
  return out;
}

std::string input_name(const Graph& cell) {
  std::vector<std::string> names;
  for (NodeId id : cell.leaves(Op::input)) {
    const std::string& name = cell.node(id).name;
    if (!is_added_input(name)) names.push_back(name);
  }
  if (names.size() != 1)
    user_error("cell '", cell.name(), "' has ", names.size(),
               " inputs; a layer of a network feeds exactly one input vector to its cell");
  return names[0];
}

std::string output_name(const Graph& cell) {
  for (const Output& o : cell.outputs())
    if (o.role == Role::output) return o.name;
  user_error("cell '", cell.name(), "' has no output; a cell has exactly one (output(...) in the DSL, 'output y = %v' in "
             "IR text)");
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
  check_layer_count(sizes.layers);
  if (static_cast<int64_t>(spec.layers.size()) != sizes.layers)
    user_error("the network lists ", spec.layers.size(), " layers but its sizes say ", sizes.layers);
  if (!(spec.dropout >= 0 && spec.dropout < 1))
    user_error("dropout must be a probability in [0, 1), got ", spec.dropout);
  if (spec.one_hot_input && spec.input_gradient)
    user_error("one_hot_input is set and so is input_gradient, but a one-hot input is given as indices, which have "
               "no gradient; set input_gradient = false (or give the input as X floats per step)");
  if (spec.one_hot_input && sizes.input > (int64_t{1} << 31) - 1)
    user_error("one_hot_input with input size ", sizes.input, ": indices are int32, so the input size must be at most ",
               (int64_t{1} << 31) - 1);
  // Zoneout names states, weight drop parameters, of at least one layer's cell.
  auto check_rates = [&](const std::map<std::string, double>& rates, const char* what, const char* meaning, Op kind,
                         const char* kind_name) {
    for (const auto& [name, rate] : rates) {
      if (!(rate >= 0 && rate < 1))
        user_error(what, " of ", kind_name, " '", name, "' must be a probability in [0, 1) (", meaning, "), got ", rate);
      bool found = false;
      std::string known;
      for (const LayerSpec& layer : spec.layers)
        for (NodeId id : layer.cell.leaves(kind)) {
          found = found || layer.cell.node(id).name == name;
          if (known.find("'" + layer.cell.node(id).name + "'") == std::string::npos)
            known += (known.empty() ? "'" : ", '") + layer.cell.node(id).name + "'";
        }
      if (!found)
        user_error(what, " names ", kind_name, " '", name, "', which no layer's cell has; the cells' ", kind_name,
                   "s are ", known.empty() ? "none" : known, "; name one of them");
    }
  };
  check_rates(spec.zoneout, "zoneout", "the chance an element keeps its previous value", Op::state, "state");
  check_rates(spec.weight_drop, "weight drop", "the chance an element is zeroed for a call", Op::param, "parameter");
  for (const auto& [name, value] : sizes.extra) {
    if (name == "X" || name == "H")
      user_error("size '", name, "' is given as an extra size; set it through the input or hidden size instead");
    if (value < 1) user_error("size '", name, "' must be >= 1, got ", value);
  }
  // The memory the network needs, counted low (in floats, as doubles so no product overflows):
  // its input, every parameter, and each unit's output and states at every step, which BPTT keeps.
  const double rows = static_cast<double>(sizes.unroll) * static_cast<double>(sizes.batch);
  double floats = rows * static_cast<double>(sizes.input);
  for (int64_t l = 0; l < sizes.layers; ++l) {
    const Graph& cell = spec.layers[static_cast<size_t>(l)].cell;
    for (NodeId id : cell.leaves(Op::input))
      if (is_added_input(cell.node(id).name))
        user_error("cell '", cell.name(), "' has an input named '", cell.node(id).name,
                   "', a name cellforge reserves for the inputs it adds (", kStepMask, ", ", kDropoutMask, ", ",
                   kZoneoutMaskPrefix, "...); rename it");
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
    // The layer feeds the cell X features: the network's input, or the output of the layer below.
    const std::string x_name = input_name(cell);
    const Dim& x_rows = cell.type(static_cast<NodeId>(cell.find_leaf(Op::input, x_name))).rows;
    if (x_rows.bind(b) != b.at("X"))
      user_error("cell '", cell.name(), "' reads its input '", x_name, "' as [", x_rows.str(), "] = ", x_rows.bind(b),
                 " features at layer ", l, ", but that layer is fed X = ", b.at("X"), " (",
                 l == 0 ? "the network's input size" : "the output width of the layer below",
                 "); declare the input as [X]");
    double unit = 0;
    for (NodeId p : cell.leaves(Op::param)) {
      const Type& t = cell.type(p);
      unit += static_cast<double>(t.rows.bind(b)) * static_cast<double>(t.is_matrix() ? t.cols.bind(b) : 1);
    }
    double per_row = static_cast<double>(cell.type(cell.find_output(Role::output, output_name(cell))->node).rows.bind(b));
    for (NodeId s : cell.leaves(Op::state)) per_row += static_cast<double>(cell.type(s).rows.bind(b));
    floats += static_cast<double>(spec.directions(l)) * (unit + rows * per_row);
  }
  const double bytes = floats * sizeof(float), memory = physical_memory();
  if (memory > 0 && bytes > memory)
    user_error("the network needs at least ", bytes_text(bytes), " of memory (its parameters, its input, and every ",
               "layer's outputs and states at all ", sizes.unroll, " steps of ", sizes.batch,
               " sequences), more than this machine's ", bytes_text(memory),
               "; use a smaller hidden size, unroll length, batch or number of layers");
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
