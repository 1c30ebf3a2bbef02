// Every buffer of one forward and backward call of a compiled network, each its own vector of the
// right size (parameters 0.01, inputs 0.5, the rest 0): the error tests change one at a time.
#pragma once

#include <span>
#include <vector>

#include "codegen/jit/compiled_network.hpp"

namespace cellforge::testing {

struct CallBuffers {
  std::vector<float> params, x, y, dy, dparams, dx;
  std::vector<std::vector<float>> states, finals, d_finals, d_initials;

  explicit CallBuffers(const CompiledNetwork& net) {
    const auto& s = net.sizes();
    params.assign(static_cast<size_t>(net.parameter_floats()), 0.01f);
    dparams = params;
    x.assign(static_cast<size_t>(s.unroll * s.batch * net.input_width()), 0.5f);
    dx = x;
    y.assign(static_cast<size_t>(s.unroll * s.batch * net.output_width()), 0.0f);
    dy = y;
    for (size_t k = 0; k < net.state_names().size(); ++k) {
      states.emplace_back(static_cast<size_t>(net.state_floats(k)), 0.0f);
      finals.push_back(states.back());
      d_finals.push_back(states.back());
      d_initials.push_back(states.back());
    }
  }
  static std::vector<std::span<const float>> in(const std::vector<std::vector<float>>& v) { return {v.begin(), v.end()}; }
  static std::vector<std::span<float>> out(std::vector<std::vector<float>>& v) { return {v.begin(), v.end()}; }
};

}  // namespace cellforge::testing
