// Gradient check of a cell's BPTT: the symbolic derivative (autodiff::differentiate), run over a
// whole network by the reference interpreter in double precision, against central differences of
// the loss
//
//   L = sum_t <dy_t, y_t> + sum_units sum_states <ds_T, s_T>
//
// (random dy and ds_T, so that every output and every final state carries gradient) with respect
// to every parameter of every unit, every input step and every initial state (random, non-zero).
// An entry passes PyTorch's gradcheck rule |fd - analytic| <= atol + rtol * |fd|; a NaN fails.
// Together with verify::compare_with_reference (the compiled code against the same interpreter)
// it shows a new cell's compiled gradients are right:
//
//   verify::GradcheckReport g = verify::gradcheck(cell, {.input = 3, .hidden = 4, .batch = 2,
//                                                        .unroll = 3, .layers = 2});
//   if (!g.passed()) std::puts(g.table().c_str());
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/ir/network_spec.hpp"

namespace cellforge::verify {

struct GradcheckOptions {
  uint64_t seed = 1;
  double weight_scale = 0.6;     // parameters uniform in [-scale, scale]: away from saturation
  double step = 1e-6;            // central-difference step
  double atol = 1e-5, rtol = 1e-3;
  int64_t max_entries = 64;      // per tensor: all entries, or this many chosen at random
};

struct TensorGradcheck {
  std::string name;          // "layer 0 dW_hh", "layer 1 backward dc_0", "dx_2"
  int64_t checked = 0;       // entries compared
  double worst_ratio = 0;    // max |fd - analytic| / (atol + rtol |fd|); <= 1 passes
  double worst_abs = 0;      // max |fd - analytic|
};

struct GradcheckReport {
  std::vector<TensorGradcheck> tensors;
  double worst_ratio = 0;
  std::string worst_tensor;
  bool passed() const { return worst_ratio <= 1.0; }
  int64_t checked() const;
  std::string table() const;
};

GradcheckReport gradcheck(const ir::NetworkSpec& spec, const GradcheckOptions& options = {});
GradcheckReport gradcheck(const ir::Graph& cell, const ir::NetworkSizes& sizes, const GradcheckOptions& options = {});

}  // namespace cellforge::verify
