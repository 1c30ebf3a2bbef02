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

/// The row stride of a workspace buffer of rows `width` floats wide: a multiple of 256 floats gets
/// one cache line more, so that the rows a GEMM tile reads or writes together (8 rows of A and C)
/// do not fall into the same cache sets (rows of 1024 floats are 4 KiB apart: every one maps to the
/// same L1 set). Measured on the LSTM's per-step products, see gemm_spec.hpp and docs/design.md.
int64_t padded_row_stride(int64_t width);

/// A [steps][batch][width] sequence in the workspace, rows padded_row_stride(width) apart.
Location sequence(Workspace& ws, int64_t steps, int64_t batch, int64_t width);

/// A [batch][width] block in the workspace (one step's value), rows padded_row_stride(width) apart.
Location step_block(Workspace& ws, int64_t batch, int64_t width);

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
  /// The input leaf (by name) that holds one int32 index per row, read by IndexProducts; "" if none.
  std::string index_input;
};

/// The storage of one scan: leaves and results as `buffers` says, everything else in the workspace.
ScanPlan plan_scan(const passes::ScanSchedule& s, int64_t layer, bool reverse, const ir::Bindings& bindings,
                   int64_t steps, int64_t batch, const ScanBuffers& buffers, Workspace& ws);

}  // namespace cellforge::llvm_backend
