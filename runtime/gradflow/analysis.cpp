// Gradient-flow analysis; see analysis.hpp.
#include "runtime/gradflow/analysis.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "runtime/gradflow/jacobian.hpp"
#include "runtime/plot/svg_plot.hpp"

namespace cellforge::gradflow {

namespace {

// The bias entries that feed the gate named "f": found by following the gate's pre-activation back
// to slices of bias vectors. Used to set a forget-gate bias on any cell that names its forget gate f.
std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> forget_bias_ranges(const ir::Graph& cell,
                                                                                    const ir::Bindings& b) {
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> out;
  for (ir::NodeId id = 0; id < cell.size(); ++id) {
    if (cell.label(id) != "f" || cell.node(id).op != ir::Op::sigmoid) continue;
    // Walk the adds under the sigmoid; a slice of a parameter vector there is a bias range.
    std::vector<ir::NodeId> todo = {cell.node(id).args[0]};
    while (!todo.empty()) {
      ir::NodeId n = todo.back();
      todo.pop_back();
      const ir::Node& node = cell.node(n);
      if (node.op == ir::Op::add) {
        todo.push_back(node.args[0]);
        todo.push_back(node.args[1]);
      } else if (node.op == ir::Op::slice) {
        // Slices of sums of slices: descend through the sum with the same window.
        const int64_t offset = node.offset.bind(b), width = node.type.rows.bind(b);
        std::vector<ir::NodeId> inner = {node.args[0]};
        while (!inner.empty()) {
          const ir::Node& m = cell.node(inner.back());
          inner.pop_back();
          if (m.op == ir::Op::add) {
            inner.push_back(m.args[0]);
            inner.push_back(m.args[1]);
          } else if (m.op == ir::Op::param && !m.type.is_matrix()) {
            out.push_back({m.name, {offset, width}});
          }
        }
      } else if (node.op == ir::Op::param && !node.type.is_matrix()) {
        out.push_back({node.name, {0, node.type.rows.bind(b)}});
      }
    }
  }
  return out;
}

}  // namespace

Report analyze(const Setup& setup) {
  ir::NetworkSpec spec = ir::NetworkSpec::stack(setup.cell, setup.sizes);
  NetworkOptions options;
  options.threads = setup.threads;
  options.telemetry.enabled = true;
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  const auto& sizes = setup.sizes;
  const int64_t T = sizes.unroll, B = sizes.batch;
  std::mt19937_64 rng(setup.seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::normal_distribution<double> normal;

  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.0f);
  for (const ParameterInfo& p : net.parameters()) {
    const double fan_in = static_cast<double>(p.cols ? p.cols : p.rows);
    for (int64_t i = 0; i < p.size(); ++i)
      params[static_cast<size_t>(p.offset + i)] = static_cast<float>(setup.weight_scale / std::sqrt(fan_in) * uniform(rng));
  }
  if (setup.forget_bias != 0)
    for (int64_t l = 0; l < sizes.layers; ++l)
      for (const auto& [name, range] : forget_bias_ranges(setup.cell, ir::layer_bindings(spec, l)))
        for (const ParameterInfo& p : net.parameters())
          if (p.layer == l && p.name == name)
            for (int64_t i = 0; i < range.second; ++i)
              params[static_cast<size_t>(p.offset + range.first + i)] += static_cast<float>(setup.forget_bias);

  std::vector<float> x(static_cast<size_t>(T * B * net.input_width()));
  for (float& e : x) e = static_cast<float>(uniform(rng));
  const std::vector<std::string> names = net.state_names();
  std::vector<std::vector<float>> s0(names.size()), sT(names.size()), dsT(names.size()), ds0(names.size());
  for (size_t k = 0; k < names.size(); ++k) {
    s0[k].assign(static_cast<size_t>(net.state_floats(k)), 0.0f);
    sT[k] = dsT[k] = ds0[k] = s0[k];
  }
  // L = <u, y_T>: a unit vector for each sequence, at the last step only.
  const int64_t Y = net.output_width();
  std::vector<float> y(static_cast<size_t>(T * B * Y)), dy(y.size(), 0.0f), dx(x.size()), dparams(params.size());
  for (int64_t r = 0; r < B; ++r) {
    double norm = 0;
    std::vector<double> u(static_cast<size_t>(Y));
    for (double& e : u) {
      e = normal(rng);
      norm += e * e;
    }
    for (int64_t j = 0; j < Y; ++j)
      dy[static_cast<size_t>(((T - 1) * B + r) * Y + j)] = static_cast<float>(u[static_cast<size_t>(j)] / std::sqrt(norm));
  }
  net.forward(params, x, {s0.begin(), s0.end()}, y, {sT.begin(), sT.end()});
  net.backward(params, x, dy, {dsT.begin(), dsT.end()}, dparams, dx, {ds0.begin(), ds0.end()});

  Report report;
  report.cell = setup.cell.name();
  report.sizes = sizes;
  report.parameter_info = net.parameters();
  report.parameters = params;
  report.parameter_gradients = dparams;
  for (const TelemetryValues& t : net.telemetry()) {
    if (t.kind == "gate_saturation") {
      report.gate_saturation.push_back(t);
      continue;
    }
    // History index i is the state between steps i-1 and i. The loss reads the last step's output,
    // so the state entering the last step (index T-1) is 0 steps back, and index T-1-k is k back.
    StateFlow flow{t.layer, t.direction, t.name, std::vector<double>(static_cast<size_t>(T))};
    for (int64_t k = 0; k < T; ++k) flow.norm[static_cast<size_t>(k)] = t.values[static_cast<size_t>(T - 1 - k)];
    report.states.push_back(flow);
  }
  // Recurrent weights and step Jacobians, layer by layer (direction 0).
  std::span<const float> workspace = net.workspace();
  const auto& plan = net.plan();
  for (int64_t l = 0; l < sizes.layers; ++l) {
    std::map<std::string, std::vector<float>> layer_params;
    for (const ParameterInfo& p : net.parameters())
      if (p.layer == l && p.direction == 0)
        layer_params[p.name] = std::vector<float>(params.begin() + p.offset, params.begin() + p.offset + p.size());
    for (const std::string& w : recurrent_weights(setup.cell))
      for (const ParameterInfo& p : net.parameters())
        if (p.layer == l && p.direction == 0 && p.name == w)
          report.weight_sigma_max.push_back({"layer " + std::to_string(l) + " " + w,
                                             largest_singular_value(layer_params[w], p.rows, p.cols)});
    if (setup.lanczos_steps <= 0) continue;
    const ir::Bindings b = ir::layer_bindings(spec, l);
    ir::Bindings extra = sizes.extra;
    StepJacobian jacobian(setup.cell, b.at("X"), sizes.hidden, extra, B, T, layer_params);
    // The layer's inputs and its states entering each step, from the forward pass's buffers.
    const auto& scan = plan.forward[static_cast<size_t>(l)];
    const ir::Graph& g = plan.schedule_of(scan).graph;
    auto gather = [&](const llvm_backend::Location& where, int64_t width, std::vector<float>& out) {
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < B; ++r)
          for (int64_t j = 0; j < width; ++j) {
            const float* base = where.slot == llvm_backend::kInput ? x.data() : workspace.data();
            out.push_back(base[where.offset + (t + where.time_offset) * where.step_stride + r * where.row_stride + j]);
          }
    };
    std::vector<float> layer_x, layer_s;
    const ir::NodeId input = static_cast<ir::NodeId>(g.find_leaf(ir::Op::input, ir::input_name(setup.cell)));
    gather(scan.location[input], b.at("X"), layer_x);
    std::vector<std::vector<float>> per_state;
    for (const std::string& name : jacobian.state_names()) {
      const ir::NodeId leaf = static_cast<ir::NodeId>(g.find_leaf(ir::Op::state, name));
      per_state.emplace_back();
      gather(scan.location[leaf], scan.width[leaf], per_state.back());
    }
    for (int64_t row = 0; row < T * B; ++row)
      for (size_t k = 0; k < per_state.size(); ++k) {
        const int64_t w = static_cast<int64_t>(per_state[k].size()) / (T * B);
        layer_s.insert(layer_s.end(), per_state[k].begin() + row * w, per_state[k].begin() + (row + 1) * w);
      }
    const std::vector<double> sigma = jacobian.largest_singular_values(layer_x, layer_s, setup.lanczos_steps, setup.seed);
    std::vector<double> mean(static_cast<size_t>(T), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < B; ++r) mean[static_cast<size_t>(t)] += sigma[static_cast<size_t>(t * B + r)] / static_cast<double>(B);
    report.jacobian_sigma_max.push_back(mean);
  }
  return report;
}

std::string report_table(const Report& report) {
  std::ostringstream out;
  const int64_t T = report.sizes.unroll;
  out << "gradient flow of " << report.cell << " (X=" << report.sizes.input << " H=" << report.sizes.hidden
      << " B=" << report.sizes.batch << " T=" << T << " L=" << report.sizes.layers << "), loss at the last step\n";
  out << "||dL/ds|| k steps back from the last:\n   k";
  for (const StateFlow& s : report.states) {
    char head[64];
    std::snprintf(head, sizeof head, "  %9s", (std::string("L") + std::to_string(s.layer) + (s.direction ? "b " : " ") + s.state).c_str());
    out << head;
  }
  out << "\n";
  std::vector<int64_t> ks;
  for (int64_t k = 0; k < T; k = k < 4 ? k + 1 : k * 2) ks.push_back(k);
  if (ks.back() != T - 1) ks.push_back(T - 1);
  for (int64_t k : ks) {
    char line[32];
    std::snprintf(line, sizeof line, "%4lld", static_cast<long long>(k));
    out << line;
    for (const StateFlow& s : report.states) {
      char v[32];
      std::snprintf(v, sizeof v, "  %9.3e", s.norm[static_cast<size_t>(k)]);
      out << v;
    }
    out << "\n";
  }
  for (size_t l = 0; l < report.jacobian_sigma_max.size(); ++l) {
    const auto& sigma = report.jacobian_sigma_max[l];
    double mean = 0, low = 1e300, high = 0;
    for (double s : sigma) {
      mean += s / static_cast<double>(sigma.size());
      low = std::min(low, s);
      high = std::max(high, s);
    }
    char line[160];
    std::snprintf(line, sizeof line, "layer %zu: sigma_max of the step Jacobian ds_t/ds_{t-1}: mean %.4f (%.4f .. %.4f)\n", l,
                  mean, low, high);
    out << line;
  }
  for (const auto& [name, sigma] : report.weight_sigma_max) {
    char line[160];
    std::snprintf(line, sizeof line, "sigma_max(%s) = %.4f\n", name.c_str(), sigma);
    out << line;
  }
  for (const TelemetryValues& g : report.gate_saturation) {
    double mean = 0;
    for (float v : g.values) mean += v / static_cast<double>(g.values.size());
    char line[160];
    std::snprintf(line, sizeof line, "gate %s of layer %lld: %.1f%% saturated on average\n", g.name.c_str(),
                  static_cast<long long>(g.layer), 100 * mean);
    out << line;
  }
  return out.str();
}

std::string report_csv(const Report& report) {
  std::ostringstream out;
  out << "cell,layer,direction,state,steps_back,gradient_norm\n";
  for (const StateFlow& s : report.states)
    for (size_t k = 0; k < s.norm.size(); ++k)
      out << report.cell << "," << s.layer << "," << s.direction << "," << s.state << "," << k << "," << s.norm[k] << "\n";
  return out.str();
}

std::string report_json(const Report& report) {
  std::ostringstream out;
  out.precision(9);
  out << "{\"cell\":\"" << report.cell << "\",\"input\":" << report.sizes.input << ",\"hidden\":" << report.sizes.hidden
      << ",\"batch\":" << report.sizes.batch << ",\"unroll\":" << report.sizes.unroll << ",\"layers\":"
      << report.sizes.layers << ",\"states\":[";
  for (size_t i = 0; i < report.states.size(); ++i) {
    const StateFlow& s = report.states[i];
    out << (i ? "," : "") << "{\"layer\":" << s.layer << ",\"direction\":" << s.direction << ",\"state\":\"" << s.state
        << "\",\"gradient_norm_by_steps_back\":[";
    for (size_t k = 0; k < s.norm.size(); ++k) out << (k ? "," : "") << s.norm[k];
    out << "]}";
  }
  out << "],\"jacobian_sigma_max\":[";
  for (size_t l = 0; l < report.jacobian_sigma_max.size(); ++l) {
    out << (l ? "," : "") << "[";
    for (size_t t = 0; t < report.jacobian_sigma_max[l].size(); ++t) out << (t ? "," : "") << report.jacobian_sigma_max[l][t];
    out << "]";
  }
  out << "],\"weight_sigma_max\":{";
  for (size_t i = 0; i < report.weight_sigma_max.size(); ++i)
    out << (i ? "," : "") << "\"" << report.weight_sigma_max[i].first << "\":" << report.weight_sigma_max[i].second;
  out << "},\"gate_saturation\":[";
  for (size_t i = 0; i < report.gate_saturation.size(); ++i) {
    const TelemetryValues& g = report.gate_saturation[i];
    out << (i ? "," : "") << "{\"layer\":" << g.layer << ",\"gate\":\"" << g.name << "\",\"fraction_by_step\":[";
    for (size_t t = 0; t < g.values.size(); ++t) out << (t ? "," : "") << g.values[t];
    out << "]}";
  }
  out << "]}\n";
  return out.str();
}

std::vector<std::string> write_report(const Report& report, const std::string& prefix) {
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream f(path);
    if (!(f << text)) user_error("cannot write '", path, "'");
  };
  write(prefix + ".csv", report_csv(report));
  write(prefix + ".json", report_json(report));
  plot::Plot norms;
  norms.title = "gradient reaching each step: " + report.cell;
  norms.x_label = "steps back from the loss";
  norms.y_label = "||dL/ds||";
  norms.y_scale = plot::Scale::log;
  for (const StateFlow& s : report.states) {
    plot::Series series{"layer " + std::to_string(s.layer) + (s.direction ? " (backward) " : " ") + s.state, {}, {}};
    for (size_t k = 0; k < s.norm.size(); ++k) {
      series.x.push_back(static_cast<double>(k));
      series.y.push_back(s.norm[k]);
    }
    norms.series.push_back(series);
  }
  plot::write_svg(prefix + "_norms.svg", norms);
  std::vector<std::string> paths = {prefix + ".csv", prefix + ".json", prefix + "_norms.svg"};
  if (!report.jacobian_sigma_max.empty()) {
    plot::Plot sigma;
    sigma.title = "largest singular value of the step Jacobian: " + report.cell;
    sigma.x_label = "step";
    sigma.y_label = "sigma_max(ds_t/ds_{t-1})";
    for (size_t l = 0; l < report.jacobian_sigma_max.size(); ++l) {
      plot::Series series{"layer " + std::to_string(l), {}, {}};
      for (size_t t = 0; t < report.jacobian_sigma_max[l].size(); ++t) {
        series.x.push_back(static_cast<double>(t));
        series.y.push_back(report.jacobian_sigma_max[l][t]);
      }
      sigma.series.push_back(series);
    }
    plot::write_svg(prefix + "_sigma.svg", sigma);
    paths.push_back(prefix + "_sigma.svg");
  }
  return paths;
}

}  // namespace cellforge::gradflow
