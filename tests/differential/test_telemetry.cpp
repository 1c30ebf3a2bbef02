// Gradient telemetry computed by the generated code equals what the reference interpreter's BPTT
// gives: ||dL/ds|| of every state at every step of every unit, and the saturation of every named
// gate at every step. Tolerance: the norms are sums of B*S squares of float32 gradients that agree
// with the double reference within 1e-4 of the largest (test_zoo_cells.cpp), so the norms agree
// within 1e-4 relative to the largest norm of the series. A saturation fraction counts values on
// either side of a threshold: it may differ by one unit (1/(B*S)) where a float32 gate value and
// its double reference fall on opposite sides of 0.1 or 0.9.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

void check_telemetry(const std::string& cell_name, bool bidirectional, int threads) {
  ir::NetworkSpec spec;
  spec.sizes = {4, 7, 3, 6, 2, {}};
  for (int l = 0; l < 2; ++l) spec.layers.push_back({zoo::find(cell_name).build(), bidirectional});
  NetworkOptions options;
  options.threads = threads;
  options.telemetry.enabled = true;
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  std::vector<ir::Graph> backward;
  for (const auto& layer : spec.layers) backward.push_back(autodiff::differentiate(layer.cell));
  ir::ReferenceNetwork reference(spec, backward);

  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const auto units = net.units();
  const int64_t T = 6, B = 3;
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()));
  ir::LayerValues ref_params(units.size()), ref_states(units.size()), ref_d_final(units.size());
  for (const ParameterInfo& p : net.parameters()) {
    ir::Array a(p.cols ? p.rows : 1, p.cols ? p.cols : p.rows);
    for (int64_t i = 0; i < p.size(); ++i) a.data[i] = params[p.offset + i] = 1.5f * u(rng);  // large: gates saturate
    for (size_t k = 0; k < units.size(); ++k)
      if (units[k].layer == p.layer && units[k].direction == p.direction) ref_params[k][p.name] = a;
  }
  auto sequence = [&](int64_t width, std::vector<float>& flat, std::vector<ir::Array>& arrays) {
    flat.resize(static_cast<size_t>(T * B * width));
    for (float& v : flat) v = u(rng);
    for (int64_t t = 0; t < T; ++t) {
      ir::Array a(B, width);
      for (int64_t i = 0; i < B * width; ++i) a.data[i] = flat[t * B * width + i];
      arrays.push_back(a);
    }
  };
  std::vector<float> x, dy;
  std::vector<ir::Array> rx, rdy;
  sequence(net.input_width(), x, rx);
  sequence(net.output_width(), dy, rdy);
  const auto names = net.state_names();
  std::vector<std::vector<float>> s0(names.size()), ds(names.size()), sT(names.size()), d0(names.size());
  for (size_t k = 0; k < names.size(); ++k) {
    for (size_t unit = 0; unit < units.size(); ++unit) {
      const int64_t w = net.state_width(k, unit);
      ir::Array a(B, w), d(B, w);
      for (int64_t i = 0; i < B * w; ++i) {
        a.data[i] = 0.5f * u(rng);
        d.data[i] = u(rng);
        s0[k].push_back(static_cast<float>(a.data[i]));
        ds[k].push_back(static_cast<float>(d.data[i]));
      }
      ref_states[unit][names[k]] = a;
      ref_d_final[unit][names[k]] = d;
    }
    sT[k].assign(s0[k].size(), 0);
    d0[k].assign(s0[k].size(), 0);
  }
  std::vector<float> y(static_cast<size_t>(T * B * net.output_width())), dparams(params.size()), dx(x.size());
  net.forward(params, x, {s0.begin(), s0.end()}, y, {sT.begin(), sT.end()});
  net.backward(params, x, dy, {ds.begin(), ds.end()}, dparams, dx, {d0.begin(), d0.end()});
  ir::ReferenceGradients ref = reference.backward(ref_params, rx, ref_states, rdy, ref_d_final);
  const auto values = reference.node_values(ref_params, rx, ref_states);

  int norms = 0, gates = 0;
  for (const TelemetryValues& series : net.telemetry()) {
    size_t unit = 0;
    while (units[unit].layer != series.layer || units[unit].direction != series.direction) ++unit;
    INFO(cell_name << (bidirectional ? " bidirectional" : "") << " threads " << threads << ": " << series.kind << " "
                   << series.name << " of layer " << series.layer << " direction " << series.direction);
    if (series.kind == "state_gradient_norm") {
      ++norms;
      REQUIRE(series.values.size() == static_cast<size_t>(T + 1));
      double largest = 1e-30;
      std::vector<double> expected;
      for (int64_t i = 0; i <= T; ++i) {
        double sum = 0;
        for (double v : ref.state_gradients[unit][static_cast<size_t>(i)].at(series.name).data) sum += v * v;
        expected.push_back(std::sqrt(sum));
        largest = std::max(largest, expected.back());
      }
      for (int64_t i = 0; i <= T; ++i) CHECK(std::fabs(series.values[i] - expected[i]) <= 1e-4 * largest);
    } else {
      ++gates;
      REQUIRE(series.values.size() == static_cast<size_t>(T));
      // The gate's saturation from the reference's values of the same labelled node.
      const ir::Graph& cell = spec.layers[static_cast<size_t>(series.layer)].cell;
      ir::NodeId gate = 0;
      while (gate < cell.size() && cell.label(gate) != series.name) ++gate;
      REQUIRE(gate < cell.size());
      const bool sigmoid = cell.node(gate).op == ir::Op::sigmoid;
      for (int64_t t = 0; t < T; ++t) {
        const ir::Array& g = values[unit][static_cast<size_t>(t)][gate];
        double saturated = 0;
        for (double v : g.data) saturated += sigmoid ? (v < 0.1 || v > 0.9) : std::fabs(v) > 0.9;
        const double expected = saturated / static_cast<double>(g.data.size());
        CHECK(std::fabs(series.values[t] - expected) <= 1.0 / static_cast<double>(g.data.size()) + 1e-6);
      }
    }
  }
  CHECK(norms == static_cast<int>(units.size() * names.size()));
  CHECK(gates > 0);
}

}  // namespace

TEST_CASE("differential: telemetry norms equal the reference BPTT's state gradients") {
  for (const char* cell : {"lstm", "gru", "rnn"})
    for (bool bidirectional : {false, true}) check_telemetry(cell, bidirectional, 1);
  check_telemetry("lstm", true, 2);
}
