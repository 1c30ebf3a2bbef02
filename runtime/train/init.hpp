// Parameter initialization as char-rnn does it: every parameter uniform in [-0.08, 0.08], then the
// forget-gate bias set to 1 (Gers et al. 2000; char-rnn sets it on the input-to-hidden bias only),
// so that an LSTM starts out remembering. Drawn from the trainer's seeded Rng, parameter by
// parameter in Network::parameters() order, so a seed fixes the initial network exactly.
//
// The forget gate is found in the cell's graph, for any DSL cell, not by cell name: a sigmoid node
// labelled "f" or "forget" (the DSL's named("f"_s, ...)), whose argument is, through slices and
// additions, a slice of a bias vector parameter. The first such bias in the order of the sum's
// operands (the input-side bias b_ih of the zoo's LSTM, as char-rnn's i2h) gets the value over the
// gate's rows. Cells without such a gate (RNN, GRU) are left uniform.
#pragma once

#include <string>
#include <vector>

#include "runtime/train/network.hpp"
#include "runtime/train/rng.hpp"

namespace cellforge::train {

struct InitOptions {
  double scale = 0.08;        // uniform in [-scale, scale]
  double forget_bias = 1.0;   // NaN: leave the forget gate's bias uniform
};

/// Where a forget-gate bias was set: parameter name and rows [begin, end).
struct ForgetBias {
  std::string parameter;
  int64_t begin = 0;
  int64_t end = 0;
};

/// The forget-gate bias rows of `spec`'s cell, per layer, named as Network::parameters() names them.
std::vector<ForgetBias> find_forget_biases(const ModelSpec& spec);

/// Initializes every parameter of `network` from `rng`; returns where forget biases were set.
std::vector<ForgetBias> initialize(Network& network, Rng& rng, const InitOptions& options = {});

}  // namespace cellforge::train
