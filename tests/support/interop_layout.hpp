// The parameter layout of a network as the compiler lays it out (without compiling it), in the
// interop library's terms, and the number of floats it spans: what the interop tests map
// PyTorch's state_dict onto.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "codegen/llvm/network_plan.hpp"
#include "runtime/interop/torch_rnn.hpp"

namespace cellforge::testing {

inline std::vector<ParameterInfo> layout_of(const ir::NetworkSpec& spec) {
  std::vector<ParameterInfo> out;
  for (const auto& p : llvm_backend::plan_network(spec, {}).params)
    out.push_back({p.layer, p.direction, p.name, p.rows, p.cols, p.offset});
  return out;
}

inline int64_t floats_of(const std::vector<ParameterInfo>& layout) {
  int64_t n = 0;
  for (const ParameterInfo& p : layout) n = std::max(n, p.offset + p.size());
  return n;
}

}  // namespace cellforge::testing
