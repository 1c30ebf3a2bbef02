// Whole-network BPTT against central differences; see gradcheck.hpp.
#include "runtime/verify/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/reference_network.hpp"

namespace cellforge::verify {

namespace {

double inner(const ir::Array& a, const ir::Array& b) {
  double sum = 0;
  for (size_t i = 0; i < a.data.size(); ++i) sum += a.data[i] * b.data[i];
  return sum;
}

ir::Array random_array(int64_t rows, int64_t cols, double scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(-scale, scale);
  ir::Array a(rows, cols);
  for (double& v : a.data) v = uniform(rng);
  return a;
}

}  // namespace

int64_t GradcheckReport::checked() const {
  int64_t n = 0;
  for (const TensorGradcheck& t : tensors) n += t.checked;
  return n;
}

std::string GradcheckReport::table() const {
  std::string out = "  tensor                              entries  worst |fd - bptt|  worst / tolerance\n";
  char line[256];
  for (const TensorGradcheck& t : tensors) {
    std::snprintf(line, sizeof line, "  %-36s %7lld  %17.2e  %17.1e%s\n", t.name.c_str(), static_cast<long long>(t.checked),
                  t.worst_abs, t.worst_ratio, t.worst_ratio > 1 ? "  FAILED" : "");
    out += line;
  }
  return out;
}

GradcheckReport gradcheck(const ir::Graph& cell, const ir::NetworkSizes& sizes, const GradcheckOptions& options) {
  return gradcheck(ir::NetworkSpec::stack(cell, sizes), options);
}

GradcheckReport gradcheck(const ir::NetworkSpec& spec, const GradcheckOptions& options) {
  ir::check_spec(spec);
  bool zoned = false;
  for (int64_t l = 0; l < spec.sizes.layers; ++l) zoned = zoned || !spec.zoned_states(l).empty();
  if (spec.variable_lengths || spec.dropout > 0 || zoned || !spec.weight_drop.empty())
    user_error("gradcheck: checks stacked and bidirectional networks; turn variable lengths, dropout, zoneout and "
               "weight drop off (the differential check, verify::compare_with_reference, covers them)");
  std::vector<ir::Graph> backward;
  for (const ir::LayerSpec& layer : spec.layers) backward.push_back(autodiff::differentiate(layer.cell));
  const ir::ReferenceNetwork net(spec, backward);
  const std::vector<ir::Unit> units = ir::units(spec);
  const ir::NetworkSizes& sizes = spec.sizes;
  const int64_t B = sizes.batch, T = sizes.unroll;
  std::mt19937_64 rng(options.seed);

  ir::LayerValues params(units.size()), states(units.size()), d_final(units.size());
  for (size_t u = 0; u < units.size(); ++u) {
    const ir::Graph& cell = spec.layers[static_cast<size_t>(units[u].layer)].cell;
    const ir::Bindings b = ir::layer_bindings(spec, units[u].layer);
    for (ir::NodeId leaf : cell.leaves(ir::Op::param)) {
      const ir::Type& type = cell.type(leaf);
      params[u][cell.node(leaf).name] = type.is_matrix()
                                            ? random_array(type.rows.bind(b), type.cols.bind(b), options.weight_scale, rng)
                                            : random_array(1, type.rows.bind(b), options.weight_scale, rng);
    }
    for (ir::NodeId leaf : cell.leaves(ir::Op::state)) {
      const int64_t width = cell.type(leaf).rows.bind(b);
      states[u][cell.node(leaf).name] = random_array(B, width, 1.0, rng);
      d_final[u][cell.node(leaf).name] = random_array(B, width, 1.0, rng);
    }
  }
  std::vector<ir::Array> inputs, d_outputs;
  const int64_t output_width = ir::layer_output_width(spec, sizes.layers - 1);
  for (int64_t t = 0; t < T; ++t) {
    inputs.push_back(random_array(B, sizes.input, 1.0, rng));
    d_outputs.push_back(random_array(B, output_width, 1.0, rng));
  }
  const ir::ReferenceGradients grads = net.backward(params, inputs, states, d_outputs, d_final);
  auto loss = [&] {
    const ir::ReferenceForward f = net.forward(params, inputs, states);
    double total = 0;
    for (int64_t t = 0; t < T; ++t) total += inner(d_outputs[static_cast<size_t>(t)], f.outputs[static_cast<size_t>(t)]);
    for (size_t u = 0; u < units.size(); ++u)
      for (const auto& [name, ds] : d_final[u]) total += inner(ds, f.final_states[u].at(name));
    return total;
  };

  GradcheckReport report;
  auto check = [&](const std::string& name, ir::Array& value, const ir::Array* analytic) {
    TensorGradcheck result{name, 0, 0, 0};
    const size_t n = value.data.size();
    std::vector<size_t> entries(n);
    for (size_t i = 0; i < n; ++i) entries[i] = i;
    if (options.max_entries > 0 && n > static_cast<size_t>(options.max_entries)) {
      std::shuffle(entries.begin(), entries.end(), rng);
      entries.resize(static_cast<size_t>(options.max_entries));
    }
    for (size_t i : entries) {
      const double saved = value.data[i];
      value.data[i] = saved + options.step;
      const double plus = loss();
      value.data[i] = saved - options.step;
      const double minus = loss();
      value.data[i] = saved;
      const double fd = (plus - minus) / (2 * options.step);
      const double an = analytic && i < analytic->data.size() ? analytic->data[i] : 0.0;
      const double error = std::fabs(fd - an);
      const double ratio = std::isfinite(error) ? error / (options.atol + options.rtol * std::fabs(fd)) : INFINITY;
      result.worst_abs = std::max(result.worst_abs, std::isfinite(error) ? error : INFINITY);
      result.worst_ratio = std::max(result.worst_ratio, ratio);
      ++result.checked;
    }
    if (result.worst_ratio > report.worst_ratio || report.tensors.empty()) {
      report.worst_ratio = std::max(report.worst_ratio, result.worst_ratio);
      report.worst_tensor = name;
    }
    report.tensors.push_back(result);
  };
  for (size_t u = 0; u < units.size(); ++u) {
    const std::string unit = "layer " + std::to_string(units[u].layer) + (units[u].direction ? " backward " : " ");
    for (auto& [name, value] : params[u]) {
      auto it = grads.params[u].find(name);
      check(unit + "d" + name, value, it == grads.params[u].end() ? nullptr : &it->second);
    }
    for (auto& [name, value] : states[u]) {
      auto it = grads.initial_states[u].find(name);
      check(unit + "d" + name + "_0", value, it == grads.initial_states[u].end() ? nullptr : &it->second);
    }
  }
  for (int64_t t = 0; t < T; ++t)
    check("dx_" + std::to_string(t), inputs[static_cast<size_t>(t)],
          static_cast<size_t>(t) < grads.inputs.size() ? &grads.inputs[static_cast<size_t>(t)] : nullptr);
  return report;
}

}  // namespace cellforge::verify
