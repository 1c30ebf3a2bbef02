// Where every value of a compiled network lives: the storage plan the lowering follows.
//
// A compiled network is called with a table of pointers, the *slots* (the input, output and
// gradient buffers of the call, the parameters, the workspace). Every value the generated code
// keeps in memory has a Location: a slot, an offset, a row stride and, for values that exist once
// per step, a step stride and a time offset, so that the value at step t, row r, feature j is at
//
//     slots[slot] + offset + (t + time_offset) * step_stride + r * row_stride + j
//
// Sequences are [T][B][width] (state histories [T+1][B][width]: step t reads s_{t-1} at index t
// and writes s_t at index t+1). Values needed only within one step live in per-step scratch
// (step_stride 0); shared values (functions of parameters) exist once. A slice is its operand's
// location with an offset; a value computed only to be concatenated is written straight into the
// concatenation's buffer.
//
// The plan is plain C++ (no LLVM) so that a compiled network loaded from the disk cache can size its
// workspace without building any IR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/ir/network_spec.hpp"
#include "codegen/llvm/gemm_spec.hpp"
#include "codegen/passes/schedule.hpp"

namespace cellforge::llvm_backend {

/// The pointer table of a call. State k of the cell has four slots from kFirstStateSlot + 4k.
enum Slot : int {
  kInput = 0,     // x        [T][B][X]
  kOutput,        // y        [T][B][Y]   (top layer)
  kParams,        // all parameters, flat (see ParamInfo)
  kGrads,         // their gradients, same layout
  kDOutput,       // dL/dy    [T][B][Y]
  kDInput,        // dL/dx    [T][B][X]
  kWorkspace,     // the network's own buffers
  kTelemetry,     // gradient telemetry (optional)
  kReusePacked,   // not null: the weights packed by this function's previous call are still valid
  kFirstStateSlot,
};
int initial_state_slot(int state);   // s_0      [L][B][S]
int final_state_slot(int state);     // s_T      [L][B][S]
int d_final_state_slot(int state);   // dL/ds_T  [L][B][S]
int d_initial_state_slot(int state); // dL/ds_0  [L][B][S]

struct Location {
  int slot = -1;
  int64_t offset = 0;
  int64_t row_stride = 0;
  int64_t step_stride = 0;
  int64_t time_offset = 0;
  bool valid() const { return slot >= 0; }
  Location shifted(int64_t columns) const {
    Location l = *this;
    l.offset += columns;
    return l;
  }
};

/// A copy of a computed value to a second place (a node that is two results, e.g. an LSTM's
/// h_next, which is both the next state and the output).
struct ResultCopy {
  ir::NodeId node;
  Location to;
  bool add = false;  // add into `to` (a parameter gradient computed at every step) instead of copying
};

/// A block of floats to clear before a scan or a call (gradients nothing writes).
struct Zeroing {
  Location where;    // step_stride 0
  int64_t rows = 0;
  int64_t width = 0;
};

/// Fused loops over fewer rows than this split their work among threads by features, not rows.
constexpr int64_t kRowsToSplit = 8;
/// Fused loops split by features take them in blocks of this many.
constexpr int64_t kFeatureGranule = 64;

/// A matrix product of a scan (matmul, matmul_t, outer) as a generated GEMM. Products whose matrix
/// is a parameter read it prepacked when they run in the time loop or have fewer rows than a tile
/// (a matrix-vector product: packing per call would cost more than the product): the parameter is
/// packed into `packed` before the scan starts, or not at all when the call says the parameters
/// are those of the previous call (kReusePacked).
struct ProductPlan {
  ir::NodeId node;
  GemmSpec spec;
  Location packed;          // valid when B is prepacked
  bool split_rows = false;  // threads take rows of C (at multiples of the tile's rows), else columns
};

/// A product of a one-hot operand given as one int32 index per row (NetworkSpec::one_hot_input),
/// which costs a copy of R floats per row instead of a GEMM over X mostly-zero columns:
///   W x      (matmul)    out[r] = column idx[r] of W = row idx[r] of `table`, W transposed into
///                        the table before the scan (with the GEMMs' packing, and skipped with it)
///   W^T x    (matmul_t)  out[r] = row idx[r] of W itself (no table)
///   outer(a, x), outer(x, a)  (the weight gradients) row r of a is added into row idx[r] of
///                        `table`, then the table is written out (transposed for outer(a, x))
/// Each thread gathers its rows, or scatters its block of the R features over every row in order,
/// so that the sums do not depend on the thread count.
struct IndexProduct {
  ir::NodeId node;
  ir::NodeId index;       // the operand that is the index input
  ir::NodeId other;       // W, or a for an outer product
  Location table;         // [X][R] in the workspace (row stride R rounded up), or invalid
  int64_t entries = 0;    // X: one-hot features
  int64_t width = 0;      // R: floats per gathered or scattered row
};

/// The plan of one unit's forward or backward scan.
struct ScanPlan {
  int64_t layer = 0;
  int64_t direction = 0;     // of the unit: 0 forward in time, 1 backward in time
  int schedule = 0;          // index into NetworkPlan::schedules
  bool backward_pass = false;
  bool reverse = false;      // the time loop runs from the last step
  ir::Bindings bindings;
  std::vector<Location> location;    // per node; invalid = lives in registers, or folded
  std::vector<double> folded_value;  // per node, for folded nodes
  std::vector<int64_t> width;        // per node: its length (rows of a matrix)
  std::vector<int64_t> cols;         // per node: columns of a matrix, else 0
  std::vector<ResultCopy> copies;
  // Per node: further places its fused loop stores it to, besides `location` — the slots of the
  // other concatenations of a value computed to be concatenated more than once (a GRU's gate
  // gradients, parts of both dz_h and dz_x).
  std::vector<std::vector<Location>> also_at;
  std::vector<Zeroing> zero_first;   // cleared before the scan starts
  std::vector<ProductPlan> products;
  std::vector<IndexProduct> index_products;
  // Threads take a phase's rows at multiples of this, in every loop and copy split by rows: the
  // tile's rows when the loop's products split rows, so that in each step a thread reads only the
  // rows it wrote and the time loop needs no barrier.
  int64_t row_granule = 1;
  // When > 0, threads split the time loop's step by features instead (few rows, matrix-vector
  // products): a thread takes features [f0, f1) of this width, at multiples of kFeatureGranule,
  // in every fused loop of the step, and every product of the loop computes the columns j with
  // j mod feature_split in [f0, f1): for an LSTM, the four gates of its features. A thread's loops
  // then read only what it wrote, and a step needs one barrier, before its products (which read
  // every feature), instead of a second one after them.
  int64_t feature_split = 0;
  const ProductPlan* product(ir::NodeId node) const {
    for (const ProductPlan& p : products)
      if (p.node == node) return &p;
    return nullptr;
  }
  const IndexProduct* index_product(ir::NodeId node) const {
    for (const IndexProduct& p : index_products)
      if (p.node == node) return &p;
    return nullptr;
  }
};

struct ParamInfo {
  int64_t layer;
  int64_t direction;  // 1: the backward-in-time copy of a bidirectional layer
  std::string name;
  int64_t rows;
  int64_t cols;    // 0 for a vector
  int64_t offset;  // floats from the start of the parameter buffer (64-byte aligned)
  int64_t size() const { return cols ? rows * cols : rows; }
};

/// A state name and its place in the caller's buffer for it: the units whose cell has the state,
/// one after the other in unit order, each [B][width] (for a stack of one cell: [L*D][B][S], as
/// PyTorch lays out h0 and c0).
struct StateInfo {
  std::string name;
  std::vector<int64_t> width;   // per unit; 0 if the unit's cell has no such state
  std::vector<int64_t> offset;  // per unit: floats from the start of the caller's buffer
  int64_t floats = 0;           // size of the caller's buffer
};

/// Copies between the caller's state buffers and the histories, at the start or end of a call.
struct StateCopy {
  Location from;
  Location to;
  int64_t rows;   // B
  int64_t width;
};

/// Gradient telemetry, computed by the generated code when asked: the norm of the gradient of
/// every state at every step (in BPTT), and the fraction of saturated units of every named gate at
/// every step (in the forward pass).
struct TelemetryOptions {
  bool enabled = false;
  double sigmoid_low = 0.1, sigmoid_high = 0.9;  // a sigmoid gate is saturated below low or above high
  double tanh_abs = 0.9;                         // a tanh gate is saturated where |value| > tanh_abs
};

/// One telemetry series: `count` floats at `offset` of the telemetry buffer.
struct TelemetrySeries {
  enum class Kind { state_gradient_norm, gate_saturation };
  Kind kind;
  int64_t unit;
  std::string name;  // the state, or the gate's label
  int64_t offset = 0;
  int64_t count = 0;  // norms: T+1, index i = the state between steps i-1 and i; saturation: T
  Location source;    // the state-gradient history, or the gate's values at every step
  int64_t width = 0;  // features of a row of the source
  ir::Op gate = ir::Op::sigmoid;
  ir::NodeId node = 0;  // the gate's node in its unit's forward schedule
};

struct NetworkPlan {
  ir::NetworkSpec spec;
  ir::Graph cell;                  // layer 0's cell as given
  ir::NetworkSizes sizes;
  std::vector<passes::LayerSchedule> schedules;  // one per distinct (transformed) layer cell
  std::vector<int> layer_schedule;               // per layer: its index into schedules
  std::vector<ir::Unit> units;
  std::vector<ParamInfo> params;
  int64_t param_floats = 0;
  std::vector<StateInfo> states;
  int64_t input_width = 0;   // X
  // NetworkSpec::one_hot_input: the caller's indices are read by layer 0's products as they are
  // (every use of its input is a product IndexProduct covers), or else expanded by the runtime into
  // one_hot_dense ([T][B][X] in the workspace) before the forward pass, which then reads that.
  bool input_gathered = false;
  Location one_hot_dense;
  int64_t output_width = 0;  // Y of the top layer
  std::vector<ScanPlan> forward, backward;  // per unit
  TelemetryOptions telemetry_options;
  int fused_vector_width = 8;               // floats per vector in the fused elementwise loops
  std::vector<TelemetrySeries> telemetry;   // when enabled
  int64_t telemetry_floats = 0;
  Location step_mask;                       // variable lengths: [T][B][1], filled per call
  std::vector<Location> dropout_masks;      // dropout: per layer (invalid for layer 0): [T][B][X], per call
  std::vector<std::vector<Location>> zoneout_masks;  // zoneout: [unit][state] (invalid if not zoned): [T][B][S]
  std::vector<StateCopy> forward_prologue, forward_epilogue, backward_prologue, backward_epilogue;
  std::vector<Zeroing> backward_zero_first;  // gradients of parameters no result reaches
  /// Floats of the workspace before the per-thread GEMM scratch; thread i's scratch starts at
  /// workspace_floats + i * scratch_floats_per_thread, so the workspace of a call on n threads is
  /// workspace_floats + n * scratch_floats_per_thread floats.
  int64_t workspace_floats = 0;
  int64_t scratch_floats_per_thread = 0;
  int64_t workspace_floats_for(int threads) const { return workspace_floats + threads * scratch_floats_per_thread; }

  const passes::ScanSchedule& schedule_of(const ScanPlan& scan) const {
    const passes::LayerSchedule& s = schedules.at(static_cast<size_t>(scan.schedule));
    return scan.backward_pass ? s.backward : s.forward;
  }
  /// The first schedule (layer 0's), for inspection.
  const passes::LayerSchedule& schedule() const { return schedules.at(0); }
};

/// Whether concatenation `node` of a scan's time loop split by features of width F is copied by
/// features (all its parts multiples of F wide, one value per row), else by rows. The plan checks
/// the parts of such a concatenation as it checks the fused loops' operands; the lowering copies it so.
bool concat_copied_by_features(const passes::ScanSchedule& s, const ScanPlan& scan, ir::NodeId node, int64_t F);

/// Plans a network. Throws UserError for a bad spec.
NetworkPlan plan_network(const ir::NetworkSpec& spec, const passes::PassOptions& options,
                         const TelemetryOptions& telemetry = {});
/// Plans a network of `sizes.layers` copies of `cell`.
NetworkPlan plan_network(const ir::Graph& cell, const ir::NetworkSizes& sizes, const passes::PassOptions& options);

}  // namespace cellforge::llvm_backend
