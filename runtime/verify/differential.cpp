// The JIT-vs-interpreter comparison; see differential.hpp.
#include "runtime/verify/differential.hpp"

#include <algorithm>
#include <cstdio>

#include "codegen/ir/error.hpp"

namespace cellforge::verify {

std::string comparison_table(const Comparison& comparison) {
  std::string out;
  char line[256];
  for (const auto& [name, difference] : comparison.tensors) {
    std::snprintf(line, sizeof line, "  %-40s %10.2e%s\n", name.c_str(), difference,
                  name == comparison.worst.where ? "  <- worst" : "");
    out += line;
  }
  return out;
}

void Comparison::add(const std::string& name, const std::vector<float>& actual, const std::vector<double>& expected) {
  double scale = 1, worst = 0;
  bool mismatch = actual.size() != expected.size();
  for (double e : expected)
    if (std::isfinite(e)) scale = std::max(scale, std::fabs(e));
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    bool fa = std::isfinite(actual[i]), fe = std::isfinite(expected[i]);
    if (fa != fe) mismatch = true;
    if (fa && fe) worst = std::max(worst, std::fabs(actual[i] - expected[i]) / scale);
  }
  tensors.push_back({name, mismatch ? INFINITY : worst});
  if (mismatch) worst = INFINITY;
  if (mismatch || worst > this->worst.relative) {
    this->worst.relative = worst;
    this->worst.nonfinite_mismatch = this->worst.nonfinite_mismatch || mismatch;
    this->worst.where = name;
  }
}

Comparison compare_with_reference(const ir::Graph& cell, const ir::NetworkSizes& sizes, const HarnessOptions& options) {
  return compare_with_reference(ir::NetworkSpec::stack(cell, sizes), options);
}

Comparison compare_with_reference(const ir::NetworkSpec& spec, const HarnessOptions& options) {
  if (!spec.weight_drop.empty())
    user_error("compare_with_reference: the reference network has no weight drop; compare the network without it "
               "(a call with weight drop is that network on masked weights: tests/differential/test_weight_drop.cpp)");
  NetworkOptions network_options;
  network_options.threads = options.threads;
  network_options.passes = options.passes;
  CompiledNetwork net = CompiledNetwork::compile(spec, network_options);
  std::vector<ir::Graph> backward;
  for (const ir::LayerSpec& layer : spec.layers) backward.push_back(autodiff::differentiate(layer.cell));
  ir::ReferenceNetwork reference(spec, backward);
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  const auto& sizes = spec.sizes;
  const int64_t T = sizes.unroll, B = sizes.batch;
  const std::vector<ir::Unit> units = net.units();
  const size_t U = units.size();

  // Parameters, rounded to float so that both engines see the same numbers.
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.0f);
  ir::LayerValues ref_params(U);
  auto unit_of = [&](int64_t layer, int64_t direction) {
    for (size_t u = 0; u < U; ++u)
      if (units[u].layer == layer && units[u].direction == direction) return u;
    return U;
  };
  for (const ParameterInfo& p : net.parameters()) {
    double scale = options.weight_scale / std::sqrt(static_cast<double>(p.cols ? p.cols : 1));
    ir::Array a(p.cols ? p.rows : 1, p.cols ? p.cols : p.rows);
    for (int64_t i = 0; i < p.size(); ++i) {
      float v = static_cast<float>(scale * uniform(rng));
      params[static_cast<size_t>(p.offset + i)] = v;
      a.data[static_cast<size_t>(i)] = v;
    }
    ref_params[unit_of(p.layer, p.direction)][p.name] = a;
  }
  auto random_sequence = [&](int64_t steps, int64_t width, double scale, std::vector<float>& flat, std::vector<ir::Array>& arrays) {
    flat.assign(static_cast<size_t>(steps * B * width), 0.0f);
    arrays.assign(static_cast<size_t>(steps), ir::Array(B, width));
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t i = 0; i < B * width; ++i) {
        float v = static_cast<float>(scale * uniform(rng));
        flat[static_cast<size_t>(t * B * width + i)] = v;
        arrays[static_cast<size_t>(t)].data[static_cast<size_t>(i)] = v;
      }
  };
  std::vector<float> x, dy;
  std::vector<ir::Array> ref_x, ref_dy;
  random_sequence(T, net.input_width(), options.input_scale, x, ref_x);
  random_sequence(T, net.output_width(), 1.0, dy, ref_dy);
  // A one-hot input: random indices for the network, their one-hot rows for the reference.
  std::vector<int32_t> indices;
  if (spec.one_hot_input) {
    const int64_t X = net.input_width();
    indices.resize(static_cast<size_t>(T * B));
    for (size_t r = 0; r < indices.size(); ++r) {
      indices[r] = static_cast<int32_t>(rng() % static_cast<uint64_t>(X));
      ir::Array& step = ref_x[r / static_cast<size_t>(B)];
      const size_t row = r % static_cast<size_t>(B) * static_cast<size_t>(X);
      std::fill(step.data.begin() + static_cast<std::ptrdiff_t>(row), step.data.begin() + static_cast<std::ptrdiff_t>(row + X), 0.0);
      step.data[row + static_cast<size_t>(indices[r])] = 1.0;
    }
  }
  const NetworkInput input = spec.one_hot_input ? NetworkInput::one_hot(indices) : NetworkInput(x);
  const std::vector<std::string> states = net.state_names();
  std::vector<std::vector<float>> initial(states.size()), d_final(states.size());
  ir::LayerValues ref_initial(U), ref_d_final(U);
  for (size_t k = 0; k < states.size(); ++k) {
    initial[k].assign(static_cast<size_t>(net.state_floats(k)), 0.0f);
    d_final[k].assign(static_cast<size_t>(net.state_floats(k)), 0.0f);
    int64_t offset = 0;
    for (size_t u = 0; u < U; ++u) {
      const int64_t w = net.state_width(k, u);
      if (!w) continue;
      ir::Array s0(B, w), ds(B, w);
      for (int64_t i = 0; i < B * w; ++i) {
        float a = static_cast<float>(0.5 * uniform(rng)), d = static_cast<float>(uniform(rng));
        initial[k][static_cast<size_t>(offset + i)] = a;
        d_final[k][static_cast<size_t>(offset + i)] = d;
        s0.data[static_cast<size_t>(i)] = a;
        ds.data[static_cast<size_t>(i)] = d;
      }
      offset += B * w;
      ref_initial[u][states[k]] = s0;
      ref_d_final[u][states[k]] = ds;
    }
  }
  ir::CallExtras extras;
  CallOptions call;
  if (spec.variable_lengths) {
    for (int64_t r = 0; r < B; ++r) extras.lengths.push_back(1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(T)));
    extras.lengths[static_cast<size_t>(rng() % static_cast<uint64_t>(B))] = T;
    call.lengths = extras.lengths;
  }
  call.dropout_seed = options.seed * 31 + 7;
  call.training = options.training;

  // The JIT.
  std::vector<float> y(static_cast<size_t>(T * B * net.output_width()));
  std::vector<std::vector<float>> final_states(states.size()), d_initial(states.size());
  std::vector<std::span<const float>> initial_spans, d_final_spans;
  std::vector<std::span<float>> final_spans, d_initial_spans;
  for (size_t k = 0; k < states.size(); ++k) {
    final_states[k].assign(initial[k].size(), 0.0f);
    d_initial[k].assign(initial[k].size(), 0.0f);
    initial_spans.push_back(initial[k]);
    d_final_spans.push_back(d_final[k]);
    final_spans.push_back(final_states[k]);
    d_initial_spans.push_back(d_initial[k]);
  }
  net.forward(params, input, initial_spans, y, final_spans, call);
  std::vector<float> dparams(params.size(), 0.0f), dx(spec.input_gradient ? x.size() : 0, 0.0f);
  net.backward(params, input, dy, d_final_spans, dparams, dx, d_initial_spans);
  // The dropout masks the compiled network drew, for the reference.
  if (spec.dropout > 0) {
    extras.dropout_masks.assign(spec.layers.size(), {});
    std::span<const float> ws = net.workspace();
    for (size_t l = 1; l < spec.layers.size(); ++l) {
      const auto& where = net.plan().dropout_masks[l];
      for (int64_t t = 0; t < T; ++t) {
        ir::Array m(B, where.row_stride);
        for (int64_t i = 0; i < B * where.row_stride; ++i)
          m.data[static_cast<size_t>(i)] = ws[static_cast<size_t>(where.offset + t * where.step_stride + i)];
        extras.dropout_masks[l].push_back(m);
      }
    }
  }

  // The zoneout masks it drew, likewise.
  extras.zoneout_masks.assign(U, {});
  for (size_t u = 0; u < U; ++u)
    for (size_t k = 0; k < states.size(); ++k) {
      const auto& where = net.plan().zoneout_masks[u][k];
      if (!where.valid()) continue;
      std::span<const float> ws = net.workspace();
      for (int64_t t = 0; t < T; ++t) {
        ir::Array m(B, where.row_stride);
        for (int64_t i = 0; i < B * where.row_stride; ++i)
          m.data[static_cast<size_t>(i)] = ws[static_cast<size_t>(where.offset + t * where.step_stride + i)];
        extras.zoneout_masks[u][states[k]].push_back(m);
      }
    }

  // The reference.
  ir::ReferenceForward ref = reference.forward(ref_params, ref_x, ref_initial, extras);
  ir::ReferenceGradients ref_grads = reference.backward(ref_params, ref_x, ref_initial, ref_dy, ref_d_final, extras);

  Comparison c;
  auto flatten = [](const std::vector<ir::Array>& arrays) {
    std::vector<double> out;
    for (const auto& a : arrays) out.insert(out.end(), a.data.begin(), a.data.end());
    return out;
  };
  c.add("y", y, flatten(ref.outputs));
  if (spec.input_gradient) c.add("dx", dx, flatten(ref_grads.inputs));
  for (size_t k = 0; k < states.size(); ++k) {
    std::vector<double> final_ref, d_initial_ref;
    for (size_t u = 0; u < U; ++u) {
      if (!net.state_width(k, u)) continue;
      const auto& f = ref.final_states[u].at(states[k]).data;
      const auto& d = ref_grads.initial_states[u].at(states[k]).data;
      final_ref.insert(final_ref.end(), f.begin(), f.end());
      d_initial_ref.insert(d_initial_ref.end(), d.begin(), d.end());
    }
    c.add("final " + states[k], final_states[k], final_ref);
    c.add("d initial " + states[k], d_initial[k], d_initial_ref);
  }
  for (const ParameterInfo& p : net.parameters()) {
    std::vector<float> actual(dparams.begin() + p.offset, dparams.begin() + p.offset + p.size());
    const auto& expected = ref_grads.params[unit_of(p.layer, p.direction)].at(p.name).data;
    c.add("d " + p.name + " (layer " + std::to_string(p.layer) + (p.direction ? " backward" : "") + ")", actual, expected);
  }
  return c;
}

}  // namespace cellforge::verify
