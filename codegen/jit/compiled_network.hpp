// The public face of the compiler: a network of cells (codegen/ir/network_spec.hpp: L stacked
// layers, one or two directions each, over T steps for B sequences) compiled into machine code with
// a forward call and a backward (BPTT) call. No LLVM type appears here.
//
//   ir::Graph cell = zoo::find("lstm").build();
//   CompiledNetwork net = CompiledNetwork::compile(cell, {.input = 65, .hidden = 128, .batch = 50,
//                                                         .unroll = 50, .layers = 2});
//   net.forward(params, x, {h0, c0}, y, {hT, cT});
//   net.backward(params, x, dy, {dhT, dcT}, dparams, dx, {dh0, dc0});
//
// Buffer layouts (all float32, row-major, contiguous):
//   params, dparams  the flat parameter buffer: parameters() gives each one's layer, name, shape
//                    and offset; matrices are [rows, cols] row-major (PyTorch's layout)
//   x, dx            [T][B][X]; a one-hot input (NetworkSpec::one_hot_input): x = [T][B] int32
//                    indices (NetworkInput::one_hot), each in [0, X) also at padded steps, no dx
//   y, dy            [T][B][Y]   (Y = the top layer's output length, output_width())
//   states           one buffer per state name, in state_names() order, holding every unit
//                    (layer and direction) whose cell has that state, in unit order, each [B][S]:
//                    for a stack of one cell that is [L*D][B][S], PyTorch's layout of h0 and c0
// backward() must follow a forward() of the same params and x: it reuses what the forward pass
// stored. A network whose input needs no gradient (NetworkSpec::input_gradient = false, e.g.
// one-hot characters) takes an empty dx and does not compute it. Every buffer's size and alignment is checked; a wrong one raises UserError naming it. A
// buffer a call writes (y, final states; dparams, dx, d_initial states) may not overlap any other.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codegen/ir/graph.hpp"
#include "codegen/ir/reference_network.hpp"
#include "codegen/jit/engine.hpp"
#include "codegen/llvm/network_plan.hpp"
#include "codegen/passes/schedule.hpp"

namespace cellforge {

/// The dropout streams of weight-drop masks: parameter region k (in parameter order) draws stream
/// kWeightDropStreams + k of the call's seed (codegen/jit/dropout_mask.hpp). Dropout between
/// layers draws streams 1 .. L-1, zoneout L+1, L+2, ... (one per unit and zoned state).
inline constexpr uint64_t kWeightDropStreams = uint64_t{1} << 23;

/// The most threads a network runs on (NetworkOptions::threads).
inline constexpr int kMaxThreads = 256;

struct NetworkOptions {
  int threads = 0;  // 0: every hardware thread; at most kMaxThreads
  int opt_level = 3;  // 0-3
  bool use_disk_cache = true;
  std::string cache_dir;  // "" = jit::default_cache_dir()
  passes::PassOptions passes;
  /// Checks every input, initial state and parameter for NaN/Inf before each call and reports the
  /// first one found (its step, row and feature).
  bool strict = false;
  /// Floats per vector in the fused elementwise loops: 8 (ymm) or 16 (zmm); 0 picks 16 where the
  /// CPU has AVX-512 and 8 elsewhere. (The GEMM's tile follows the CPU regardless.)
  int fused_vector_width = 0;
  /// Gradient telemetry computed by the generated code (telemetry() after each call).
  llvm_backend::TelemetryOptions telemetry;
};

/// One telemetry series of the last calls: for a state, ||dL/ds|| at index i = the state between
/// steps i-1 and i (0: the initial state, T: the final one) from the last backward(); for a named
/// gate, the fraction of its units saturated at each step from the last forward().
struct TelemetryValues {
  std::string kind;  // "state_gradient_norm" or "gate_saturation"
  int64_t layer;
  int64_t direction;
  std::string name;
  std::vector<float> values;
};

struct ParameterInfo {
  int64_t layer;
  int64_t direction;  // 1: the backward-in-time copy of a bidirectional layer
  std::string name;
  int64_t rows;
  int64_t cols;    // 0 for a vector
  int64_t offset;  // in floats, into the flat parameter buffer
  int64_t size() const { return cols ? rows * cols : rows; }
};

/// What changes from call to call besides the buffers.
struct CallOptions {
  std::span<const int64_t> lengths;  // variable lengths: each sequence's length, in [1, T]
  bool training = true;              // dropout, zoneout and weight-drop masks drawn from dropout_seed; false:
                                     // evaluation (no dropout, each zoned state blended by its rate, the
                                     // parameters as they are)
  uint64_t dropout_seed = 0;         // the same seed gives the same masks, whatever the thread count: a
                                     // trainer passes a new seed each step (and training = false to infer)
  /// The parameters hold the same values as in this network's previous forward(): the weight
  /// matrices that call packed for its GEMMs are used again instead of packed anew (most of the
  /// work of a call at T = 1, B = 1: a sampler's). Results are bitwise the same. cellforge cannot
  /// see a change made through the caller's buffer, so set it only when nothing changed; with
  /// NetworkOptions::strict a changed parameter is reported instead. Around a call with weight drop
  /// (NetworkSpec::weight_drop) the packed weights are never reused, and nothing is compared.
  bool parameters_unchanged = false;
};

/// The input x of a call: [T][B][X] floats, or for a network compiled with
/// NetworkSpec::one_hot_input the index of the one feature that is 1 at each step of each sequence,
/// [T][B] int32 in [0, X) (NetworkInput::one_hot(indices)).
class NetworkInput {
 public:
  NetworkInput() = default;
  template <class Floats>
    requires std::convertible_to<Floats &&, std::span<const float>>
  NetworkInput(Floats&& x) : dense_(std::forward<Floats>(x)) {}  // NOLINT: implicit, as a span would be
  static NetworkInput one_hot(std::span<const int32_t> indices) {
    NetworkInput in;
    in.indices_ = indices;
    in.is_one_hot_ = true;
    return in;
  }
  bool is_one_hot() const { return is_one_hot_; }
  std::span<const float> dense() const { return dense_; }
  std::span<const int32_t> indices() const { return indices_; }

 private:
  std::span<const float> dense_;
  std::span<const int32_t> indices_;
  bool is_one_hot_ = false;
};

class CompiledNetwork {
 public:
  static CompiledNetwork compile(const ir::NetworkSpec& spec, const NetworkOptions& options = {});
  /// sizes.layers copies of `cell`.
  static CompiledNetwork compile(const ir::Graph& cell, const ir::NetworkSizes& sizes, const NetworkOptions& options = {});
  CompiledNetwork(CompiledNetwork&&) noexcept;
  CompiledNetwork& operator=(CompiledNetwork&&) noexcept;
  ~CompiledNetwork();

  const ir::NetworkSizes& sizes() const;
  const ir::NetworkSpec& spec() const;
  const ir::Graph& cell() const;  // layer 0's
  const std::vector<ParameterInfo>& parameters() const;
  int64_t parameter_floats() const;
  std::vector<std::string> state_names() const;
  /// The (layer, direction) pairs, in the order the state buffers and parameters list them.
  std::vector<ir::Unit> units() const;
  /// The length of state `state` in unit `unit` (0 if that unit's cell has no such state).
  int64_t state_width(size_t state, size_t unit) const;
  /// Floats in one state buffer.
  int64_t state_floats(size_t state) const;
  int64_t input_width() const;
  int64_t output_width() const;
  int threads() const;
  const jit::CompileStats& compile_stats() const;
  /// The network's own buffers as the last call left them (state histories, saved values, ...),
  /// laid out as the plan says; for inspection tools and tests.
  std::span<const float> workspace() const;
  /// Every telemetry series (empty unless compiled with telemetry.enabled).
  std::vector<TelemetryValues> telemetry() const;
  const llvm_backend::NetworkPlan& plan() const;

  /// Runs the network, keeping what backward() needs.
  void forward(std::span<const float> params, NetworkInput x,
               const std::vector<std::span<const float>>& initial_states, std::span<float> y,
               const std::vector<std::span<float>>& final_states, const CallOptions& call = {});

  /// BPTT: the gradients of L = <dy, y> + sum_s <d_final_states[s], s_T>.
  void backward(std::span<const float> params, NetworkInput x, std::span<const float> dy,
                const std::vector<std::span<const float>>& d_final_states, std::span<float> dparams,
                std::span<float> dx, const std::vector<std::span<float>>& d_initial_states);

  struct Impl;

 private:
  explicit CompiledNetwork(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The LLVM IR (as built, or optimized) or assembly of the network, for `cellforge inspect`.
std::string emit_network(const ir::Graph& cell, const ir::NetworkSizes& sizes, jit::Stage stage,
                         const NetworkOptions& options = {});
std::string emit_network(const ir::NetworkSpec& spec, jit::Stage stage, const NetworkOptions& options = {});

}  // namespace cellforge
