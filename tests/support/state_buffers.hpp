// The state buffers of one forward and one backward call of a compiled network, for the tests that
// compare two networks bit for bit: random initial states and final-state gradients (the same for
// networks with the same states), and room for what the calls write.
#pragma once

#include <span>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "support/random_floats.hpp"

namespace cellforge::testing {

struct StateBuffers {
  std::vector<std::vector<float>> initial, final, d_final, d_initial;

  explicit StateBuffers(const CompiledNetwork& net) {
    for (size_t k = 0; k < net.state_names().size(); ++k) {
      const size_t n = static_cast<size_t>(net.state_floats(k));
      initial.push_back(random_floats(n, 10 + k, 0.5f));
      d_final.push_back(random_floats(n, 20 + k, 0.5f));
      final.emplace_back(n);
      d_initial.emplace_back(n);
    }
  }
  // The spans forward() and backward() take.
  std::vector<std::span<const float>> initial_in() const { return {initial.begin(), initial.end()}; }
  std::vector<std::span<float>> final_out() { return {final.begin(), final.end()}; }
  std::vector<std::span<const float>> d_final_in() const { return {d_final.begin(), d_final.end()}; }
  std::vector<std::span<float>> d_initial_out() { return {d_initial.begin(), d_initial.end()}; }
  /// What the calls wrote: the final states, then the initial states' gradients, one after the other.
  std::vector<float> written() const {
    std::vector<float> out;
    for (const auto* group : {&final, &d_initial})
      for (const auto& v : *group) out.insert(out.end(), v.begin(), v.end());
    return out;
  }
};

}  // namespace cellforge::testing
