// The passes between the derivative and LLVM, and what they produce: a schedule of each layer's
// forward and backward step graphs.
//
// A step graph runs inside a scan over time (forward: t = 0..T-1; backward: t = T-1..0). Some of its
// leaves are *carried*: their value at step t comes from the step before (the states in the forward
// graph, the seeds of the next states in the backward graph); everything else a step reads comes
// from a sequence buffer (x_t, the state history, saved forward values, dL/dy_t) or is a parameter.
// The schedule assigns every node to a phase:
//
//   shared  the same for every row and step (parameters and functions of them): computed once
//   pre     does not depend on a carried leaf: computed for all T*B rows before the time loop
//           (the matmuls W x_t of every step as one GEMM)
//   loop    on the path from a carried leaf to a carried result: computed step by step
//   post    depends on the loop but no carried result needs it: computed for all T*B rows after
//           the loop (weight gradients dW = sum_t dz_t x_t^T and dx = W^T dz as GEMMs)
//
// and, within a phase, to a stage: each stage runs its products (GEMMs, batch sums) first and then
// its fused elementwise groups, one loop nest per group of nodes of equal width. Values that cross
// a group, a stage or a phase are materialized in buffers; everything else stays in registers.
//
// The passes, in pipeline order (pipeline.cpp): differentiate, choose_saved, simplify,
// sink_slices, hoist_time_parallel, fuse_elementwise, rematerialize. Each can be switched off to
// measure what it brings.
#pragma once

#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::passes {

enum class Phase : uint8_t { shared, pre, loop, post };
const char* phase_name(Phase phase);

/// A matrix product (matmul, matmul_t, outer) or a sum over the batch rows (batch_sum), run over all
/// rows of its phase at once.
struct Product {
  Phase phase;
  int stage;
  ir::NodeId node;
};

/// A fused elementwise loop: nodes of one width, computed together over the rows of their phase.
struct FusionGroup {
  Phase phase;
  int stage;
  ir::Dim width;
  bool shared;                    // one row for the whole batch (functions of parameters, gradients)
  ir::Dim cols;                   // for a group of matrices (elementwise on [width, cols]): cols; else zero
  std::vector<ir::NodeId> nodes;  // in dependency order
  // Values of earlier loops computed again here, in registers, before `nodes` (rematerialize): in
  // dependency order; their own loops store them if anything still needs them in memory.
  std::vector<ir::NodeId> recomputed;
};

struct ScanSchedule {
  ir::Graph graph;
  bool reverse = false;                     // the backward scan runs from the last step
  std::vector<ir::NodeId> carried_leaves;   // leaves whose value comes from the previous step
  std::vector<Phase> phase;                 // per node
  std::vector<int> stage;                   // per node
  std::vector<bool> materialized;           // per node: the value lives in a buffer
  std::vector<bool> folded;                 // per node: a compile-time constant (no runtime work)
  std::vector<bool> accumulate;             // per node: a loop product that adds into its result every step
  std::vector<Product> products;            // ordered by (phase, stage)
  std::vector<FusionGroup> groups;          // ordered by (phase, stage)
  int stages(Phase p) const;                // the number of stages of a phase
};

/// The schedules of one layer: its forward and backward scans, and the printed graph after each pass.
struct LayerSchedule {
  ScanSchedule forward;
  ScanSchedule backward;
  std::vector<std::pair<std::string, std::string>> log;  // (pass name, printed result)
};

/// Which passes run; each optimization can be switched off to measure what it brings.
struct PassOptions {
  bool simplify = true;
  bool sink_slices = true;
  bool hoist_time_parallel = true;  // off: every per-row node runs inside the time loop
  /// The forward is hoisted only for batches below this (0: at any batch; the backward always is).
  /// A per-step product of 32 rows or more already runs the GEMM at full speed, and keeping the
  /// input product in the step spares a T·B·N buffer written before the loop and read back from
  /// memory step by step (docs/design.md, "The forward hoists only small batches").
  int64_t hoist_forward_below_batch = 32;
  bool fuse_elementwise = true;     // off: one loop per elementwise node
  bool rematerialize = true;        // off: a value read by a later loop is always stored and read back
};

/// The text of a schedule: the graph, each node annotated with its phase and stage.
std::string print_schedule(const ScanSchedule& schedule);

}  // namespace cellforge::passes
