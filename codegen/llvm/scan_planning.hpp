// Internal to the planner (network_plan.cpp plans one scan's storage, plan_network.cpp the whole
// network's): the workspace allocator and what a scan's leaves and results are bound to.
#pragma once

#include <algorithm>
#include <functional>

#include "codegen/llvm/network_plan.hpp"

namespace cellforge::llvm_backend {

constexpr int64_t kAlign = 16;  // floats: 64 bytes
inline int64_t aligned(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

/// Hands out 64-byte aligned regions of the workspace.
class Workspace {
 public:
  int64_t allocate(int64_t floats);
  int64_t size() const { return size_; }

 private:
  int64_t size_ = 0;
};

/// A [steps][batch][width] sequence in the workspace.
Location sequence(Workspace& ws, int64_t steps, int64_t batch, int64_t width);

/// Where a result goes; `add`: added into a buffer another unit writes first.
struct ResultTarget {
  Location where;
  bool add = false;
};

struct ScanBuffers {
  std::function<Location(const ir::Node&)> leaf;
  std::function<ResultTarget(const ir::Output&)> result;
  /// Values to keep in memory for every step even if nothing reads them later (telemetry's gates).
  std::function<bool(ir::NodeId)> keep_every_step;
};

/// The storage of one scan: leaves and results as `buffers` says, everything else in the workspace.
ScanPlan plan_scan(const passes::ScanSchedule& s, int64_t layer, bool reverse, const ir::Bindings& bindings,
                   int64_t steps, int64_t batch, const ScanBuffers& buffers, Workspace& ws);

}  // namespace cellforge::llvm_backend
