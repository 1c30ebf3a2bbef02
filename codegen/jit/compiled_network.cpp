// Compiling and calling a network; see compiled_network.hpp.
#include "codegen/jit/compiled_network.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/gemm_kernels.hpp"
#include "codegen/jit/dropout_mask.hpp"
#include "codegen/jit/thread_pool.hpp"
#include "codegen/llvm/gemm.hpp"
#include "codegen/llvm/lower.hpp"
#include "codegen/llvm/network_plan.hpp"
#include "codegen_version.hpp"

namespace cellforge {

using llvm_backend::NetworkPlan;

using EntryPoint = void (*)(void**, int64_t, int64_t, void*);

struct CompiledNetwork::Impl {
  NetworkPlan plan;
  NetworkOptions options;
  std::vector<ParameterInfo> parameters;
  std::unique_ptr<jit::CompiledCode> code;
  EntryPoint forward = nullptr;
  EntryPoint backward = nullptr;
  std::shared_ptr<jit::ThreadPool> pool;  // shared with the process's other networks of as many threads
  std::unique_ptr<float[], void (*)(float*)> workspace{nullptr, [](float* p) { std::free(p); }};
  std::vector<float> telemetry;
  size_t workspace_size = 0;
  bool forward_done = false;
  // The weights the forward function packed in its last call, and (strict only) of what values.
  bool forward_packed = false;
  std::vector<float> packed_from;
  // Weight drop: the parameters' regions it drops (offset, floats, rate), the parameters as the last
  // training call used them (masked), and each region's mask, which backward() multiplies into the
  // gradient.
  struct DroppedRegion {
    int64_t offset, size;
    double rate;
  };
  std::vector<DroppedRegion> dropped_regions;
  std::vector<float> dropped_params, weight_masks;
  bool weights_dropped = false;  // the last forward() used dropped_params
};

namespace {

std::string describe(const NetworkPlan& plan, const NetworkOptions& options) {
  std::ostringstream key;
  key << "cellforge " << CELLFORGE_CODEGEN_VERSION << "\n";
  for (const ir::LayerSpec& layer : plan.spec.layers) key << ir::print(layer.cell) << layer.bidirectional << "\n";
  // (Weight drop changes the parameters a call passes, not the code.)
  key << "lengths " << plan.spec.variable_lengths << " dropout " << (plan.spec.dropout > 0)
      << " input-gradient " << plan.spec.input_gradient << " one-hot " << plan.spec.one_hot_input << " zoneout";
  for (int64_t l = 0; l < plan.sizes.layers; ++l)
    for (const std::string& state : plan.spec.zoned_states(l)) key << " " << l << ":" << state;
  key << " input " << plan.sizes.input
      << " hidden " << plan.sizes.hidden << " batch " << plan.sizes.batch << " unroll " << plan.sizes.unroll
      << " layers " << plan.sizes.layers;
  for (const auto& [name, value] : plan.sizes.extra) key << " " << name << "=" << value;
  const passes::PassOptions& p = options.passes;
  const llvm_backend::TelemetryOptions& t = options.telemetry;
  if (t.enabled) key << " telemetry " << t.sigmoid_low << " " << t.sigmoid_high << " " << t.tanh_abs;
  key << " fused " << plan.fused_vector_width;
  key << " " << llvm_backend::gemm_generator_version << " l1 " << llvm_backend::host_l1_data_bytes() << " passes " << p.simplify << p.sink_slices << p.hoist_time_parallel << p.fuse_elementwise << p.rematerialize << " hoist forward below " << p.hoist_forward_below_batch;
  return key.str();
}

// The fused loops' vector width of `options` on this machine.
int fused_vector_width(const NetworkOptions& options) {
  if (options.fused_vector_width == 0) return jit::host_target().avx512f ? 16 : 8;
  if (options.fused_vector_width != 4 && options.fused_vector_width != 8 && options.fused_vector_width != 16)
    user_error("fused_vector_width is ", options.fused_vector_width, "; expected 4, 8 or 16 floats (or 0 for the CPU's best)");
  return options.fused_vector_width;
}

void check_buffer(const char* what, size_t actual, int64_t expected, const void* data) {
  if (static_cast<int64_t>(actual) != expected)
    user_error(what, " has ", actual, " floats; expected ", expected, " (see CompiledNetwork's buffer layouts)");
  if (reinterpret_cast<uintptr_t>(data) % alignof(float) != 0)
    user_error(what, " is not aligned to ", alignof(float), " bytes (address ", data, ")");
}

// A [T][B][width] buffer (x, y, dx, dy): a wrong size names the layout, and when the floats make
// whole steps of [B][width], how many: a sequence of another length than the compiled unroll.
void check_steps(const char* what, std::span<const float> buffer, const ir::NetworkSizes& s, const char* width_name,
                 int64_t width) {
  const int64_t actual = static_cast<int64_t>(buffer.size()), per_step = s.batch * width;
  if (actual != s.unroll * per_step) {
    std::string steps;
    if (actual > 0 && actual % per_step == 0)
      steps = detail::concat("; that is ", actual / per_step, " steps, but the network was compiled for unroll length ",
                             s.unroll, ": pad the sequences to ", s.unroll, " steps or compile for ", actual / per_step);
    user_error(what, " has ", actual, " floats; expected ", s.unroll * per_step, " = [T=", s.unroll, "][B=", s.batch,
               "][", width_name, "=", width, "]", steps);
  }
  check_buffer(what, buffer.size(), s.unroll * per_step, buffer.data());
}

// The call's x, checked: [T][B][X] floats, or for a one-hot network [T][B] indices, each in
// [0, X). Gives what the generated code reads (slot kInput) and its size in 4-byte elements.
std::span<const float> checked_input(const NetworkPlan& plan, const NetworkInput& x) {
  const auto& s = plan.sizes;
  if (!plan.spec.one_hot_input) {
    if (x.is_one_hot())
      user_error("x is given as ", x.indices().size(), " one-hot indices, but the network was compiled for ",
                 plan.input_width, " input floats per step; compile with NetworkSpec::one_hot_input = true (and "
                 "input_gradient = false), or pass x as [T][B][X] floats");
    check_steps("x", x.dense(), s, "X", plan.input_width);
    return x.dense();
  }
  if (!x.is_one_hot())
    user_error("x is given as ", x.dense().size(), " floats, but the network was compiled with one_hot_input: pass ",
               "the index of each step's one feature, [T=", s.unroll, "][B=", s.batch, "] int32, as NetworkInput::one_hot(indices)");
  std::span<const int32_t> indices = x.indices();
  if (static_cast<int64_t>(indices.size()) != s.unroll * s.batch)
    user_error("x has ", indices.size(), " one-hot indices; expected ", s.unroll * s.batch, " = [T=", s.unroll, "][B=",
               s.batch, "], one per step of each sequence");
  for (size_t i = 0; i < indices.size(); ++i)
    if (indices[i] < 0 || indices[i] >= plan.input_width)
      user_error("x's one-hot index ", indices[i], " at step ", static_cast<int64_t>(i) / s.batch, ", sequence ",
                 static_cast<int64_t>(i) % s.batch, " is outside [0, ", plan.input_width,
                 "): an index names one of the input's X = ", plan.input_width, " features");
  return {reinterpret_cast<const float*>(indices.data()), indices.size()};
}

// A one-hot input that layer 0's products do not read as indices (NetworkPlan::one_hot_dense):
// its [T][B][X] floats, written into the workspace.
void expand_one_hot(const NetworkPlan& plan, float* workspace, std::span<const int32_t> indices) {
  const llvm_backend::Location& where = plan.one_hot_dense;
  if (!where.valid()) return;
  float* dense = workspace + where.offset;
  std::fill(dense, dense + static_cast<int64_t>(indices.size()) * where.row_stride, 0.0f);
  for (size_t r = 0; r < indices.size(); ++r) dense[static_cast<int64_t>(r) * where.row_stride + indices[r]] = 1.0f;
}

// A buffer a call writes must not share memory with another buffer of the call: the generated
// code reads its inputs while it writes its outputs, so an overlap gives wrong numbers silently.
struct NamedBuffer {
  std::string name;
  const float* begin;
  size_t size;
  bool written;
};
void check_no_overlap(const std::vector<NamedBuffer>& buffers) {
  for (const NamedBuffer& w : buffers) {
    if (!w.written || w.size == 0) continue;
    for (const NamedBuffer& o : buffers) {
      if (&o == &w || o.size == 0 || (o.written && &o < &w)) continue;
      if (w.begin < o.begin + o.size && o.begin < w.begin + w.size)
        user_error(w.name, " overlaps ", o.name, "; the call writes ", w.name,
                   " while it reads the others, so every output buffer needs memory of its own");
    }
  }
}

void check_states(const char* what, size_t count, const NetworkPlan& plan) {
  if (count != plan.states.size())
    user_error(what, ": got ", count, " buffers; the network's cells have ", plan.states.size(), " states (", [&] {
                 std::string names;
                 for (const auto& s : plan.states) names += (names.empty() ? "" : ", ") + s.name;
                 return names;
               }(), ")");
}

int64_t state_floats_of(const NetworkPlan& plan, size_t k) { return plan.states[k].floats; }

// The call's sequence lengths: one per sequence, each in [1, T], given exactly when the network
// was compiled for variable lengths.
void check_lengths(const NetworkPlan& plan, const CallOptions& call) {
  const auto& s = plan.sizes;
  if (plan.spec.variable_lengths) {
    if (static_cast<int64_t>(call.lengths.size()) != s.batch)
      user_error("lengths: got ", call.lengths.size(), " sequence lengths; the batch has ", s.batch,
                 " sequences (the network was compiled for variable lengths)");
    for (size_t r = 0; r < call.lengths.size(); ++r)
      if (call.lengths[r] < 1 || call.lengths[r] > s.unroll)
        user_error("sequence ", r, " has length ", call.lengths[r], "; lengths must be in [1, ", s.unroll, "]");
  } else if (!call.lengths.empty()) {
    user_error("lengths given, but the network was compiled without variable lengths (set NetworkSpec::variable_lengths)");
  }
}

// Fills the inputs of a call the generated code reads from the workspace (check_lengths first): the
// step mask of each sequence's length, the dropout masks and the zoneout masks (drawn on the pool;
// in evaluation the dropout masks are 1 and the zoneout masks the zoneout rate, each state's
// expected blend).
void fill_call_inputs(const NetworkPlan& plan, float* workspace, const CallOptions& call, jit::ThreadPool& pool) {
  const auto& s = plan.sizes;
  if (plan.spec.variable_lengths) {
    float* mask = workspace + plan.step_mask.offset;
    for (int64_t t = 0; t < s.unroll; ++t)
      for (int64_t r = 0; r < s.batch; ++r) mask[t * s.batch + r] = t < call.lengths[static_cast<size_t>(r)] ? 1.0f : 0.0f;
  }
  for (size_t l = 0; l < plan.dropout_masks.size(); ++l) {
    const llvm_backend::Location& where = plan.dropout_masks[l];
    if (!where.valid()) continue;
    std::span<float> mask(workspace + where.offset, static_cast<size_t>(s.unroll * s.batch * where.row_stride));
    if (call.training && plan.spec.dropout_per_sequence)
      jit::draw_sequence_dropout_mask(mask, s.unroll, call.dropout_seed, l, plan.spec.dropout, pool);
    else if (call.training)
      jit::draw_dropout_mask(mask, call.dropout_seed, l, plan.spec.dropout, pool);
    else
      std::fill(mask.begin(), mask.end(), 1.0f);
  }
  // Zoneout masks are streams L + 1, L + 2, ... in (unit, state) order (the language model's head
  // draws its dropout as stream L).
  uint64_t stream = static_cast<uint64_t>(s.layers) + 1;
  for (size_t u = 0; u < plan.zoneout_masks.size(); ++u)
    for (size_t k = 0; k < plan.zoneout_masks[u].size(); ++k) {
      const llvm_backend::Location& where = plan.zoneout_masks[u][k];
      if (!where.valid()) continue;
      const double rate = plan.spec.zoneout.at(plan.states[k].name);
      std::span<float> mask(workspace + where.offset, static_cast<size_t>(s.unroll * s.batch * where.row_stride));
      if (call.training)
        jit::draw_zoneout_mask(mask, call.dropout_seed, stream, rate, pool);
      else
        std::fill(mask.begin(), mask.end(), static_cast<float>(rate));
      ++stream;
    }
}

// Weight drop: the parameters' dropped regions, in parameter order.
std::vector<CompiledNetwork::Impl::DroppedRegion> dropped_regions(const NetworkPlan& plan) {
  std::vector<CompiledNetwork::Impl::DroppedRegion> out;
  for (const auto& p : plan.params) {
    auto it = plan.spec.weight_drop.find(p.name);
    if (it != plan.spec.weight_drop.end() && it->second > 0) out.push_back({p.offset, p.size(), it->second});
  }
  return out;
}

// The masked copy of `params` a training call with weight drop runs on: region k's mask is dropout
// stream kWeightDropStreams + k of the call's seed (0 or 1/(1-p) per element), the rest a copy.
void drop_parameters(CompiledNetwork::Impl& impl, std::span<const float> params, uint64_t seed) {
  impl.dropped_params.assign(params.begin(), params.end());
  impl.weight_masks.resize(params.size());
  for (size_t k = 0; k < impl.dropped_regions.size(); ++k) {
    const auto& r = impl.dropped_regions[k];
    std::span<float> mask(impl.weight_masks.data() + r.offset, static_cast<size_t>(r.size));
    jit::draw_dropout_mask(mask, seed, kWeightDropStreams + k, r.rate, *impl.pool);
    for (int64_t i = r.offset; i < r.offset + r.size; ++i)
      impl.dropped_params[static_cast<size_t>(i)] = params[static_cast<size_t>(i)] * impl.weight_masks[static_cast<size_t>(i)];
  }
}

// Strict mode: the first non-finite value of a [T][B][width] buffer, reported by position.
void check_finite(const char* what, std::span<const float> data, int64_t batch, int64_t width) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (std::isfinite(data[i])) continue;
    const int64_t per_step = batch * width;
    const int64_t step = static_cast<int64_t>(i) / per_step, row = static_cast<int64_t>(i) % per_step / width,
                  feature = static_cast<int64_t>(i) % width;
    user_error("non-finite value (", std::isnan(data[i]) ? "NaN" : "Inf", ") in ", what, " at step ", step,
               ", batch row ", row, ", feature ", feature);
  }
}

}  // namespace

CompiledNetwork::CompiledNetwork(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledNetwork::CompiledNetwork(CompiledNetwork&&) noexcept = default;
CompiledNetwork& CompiledNetwork::operator=(CompiledNetwork&&) noexcept = default;
CompiledNetwork::~CompiledNetwork() = default;

CompiledNetwork CompiledNetwork::compile(const ir::Graph& cell, const ir::NetworkSizes& sizes, const NetworkOptions& options) {
  return compile(ir::NetworkSpec::stack(cell, sizes), options);
}

CompiledNetwork CompiledNetwork::compile(const ir::NetworkSpec& spec, const NetworkOptions& options) {
  if (options.threads < 0 || options.threads > kMaxThreads)
    user_error("threads is ", options.threads, "; expected 0 (one per hardware thread, ", jit::hardware_threads(),
               " here) or a count from 1 to ", kMaxThreads);
  if (options.opt_level < 0 || options.opt_level > 3)
    user_error("opt_level is ", options.opt_level, "; expected 0, 1, 2 or 3 (LLVM's -O0 to -O3)");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->plan = llvm_backend::plan_network(spec, options.passes, options.telemetry);
  impl->plan.fused_vector_width = fused_vector_width(options);
  impl->telemetry.assign(static_cast<size_t>(impl->plan.telemetry_floats), 0.0f);
  for (const auto& p : impl->plan.params)
    impl->parameters.push_back({p.layer, p.direction, p.name, p.rows, p.cols, p.offset});
  impl->dropped_regions = dropped_regions(impl->plan);
  const NetworkPlan& plan = impl->plan;
  jit::CompileOptions compile_options;
  compile_options.opt_level = options.opt_level;
  compile_options.use_disk_cache = options.use_disk_cache;
  compile_options.cache_dir = options.cache_dir;
  compile_options.host_symbols = {{"cellforge_barrier_wait", reinterpret_cast<void*>(&cellforge_barrier_wait)}};
  // The network's gemms call into the kernel libraries of their tiles.
  std::vector<llvm_backend::GemmSpec> gemms;
  for (const auto* scans : {&plan.forward, &plan.backward})
    for (const llvm_backend::ScanPlan& scan : *scans)
      for (const llvm_backend::ProductPlan& product : scan.products) gemms.push_back(product.spec);
  compile_options.libraries = jit::gemm_libraries(gemms);
  impl->code = jit::compile(jit::cache_key(describe(plan, options)), llvm_backend::network_builder(plan),
                            compile_options);
  impl->forward = reinterpret_cast<EntryPoint>(impl->code->lookup("cf_forward"));
  impl->backward = reinterpret_cast<EntryPoint>(impl->code->lookup("cf_backward"));
  impl->pool = jit::shared_thread_pool(options.threads > 0 ? options.threads : jit::hardware_threads());
  // 64-byte aligned: packed GEMM panels are read a cache line at a time.
  impl->workspace_size = static_cast<size_t>(plan.workspace_floats_for(impl->pool->size()));
  size_t bytes = (impl->workspace_size * sizeof(float) + 63) / 64 * 64;
  impl->workspace.reset(static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes)));
  if (!impl->workspace) user_error("cannot allocate the network's workspace of ", bytes, " bytes");
  std::memset(impl->workspace.get(), 0, bytes);
  return CompiledNetwork(std::move(impl));
}

const ir::NetworkSizes& CompiledNetwork::sizes() const { return impl_->plan.sizes; }
const ir::Graph& CompiledNetwork::cell() const { return impl_->plan.cell; }
const ir::NetworkSpec& CompiledNetwork::spec() const { return impl_->plan.spec; }
std::vector<ir::Unit> CompiledNetwork::units() const { return impl_->plan.units; }

std::vector<TelemetryValues> CompiledNetwork::telemetry() const {
  std::vector<TelemetryValues> out;
  for (const llvm_backend::TelemetrySeries& s : impl_->plan.telemetry) {
    const ir::Unit& unit = impl_->plan.units[static_cast<size_t>(s.unit)];
    const bool norm = s.kind == llvm_backend::TelemetrySeries::Kind::state_gradient_norm;
    out.push_back({norm ? "state_gradient_norm" : "gate_saturation", unit.layer, unit.direction, s.name,
                   std::vector<float>(impl_->telemetry.begin() + s.offset, impl_->telemetry.begin() + s.offset + s.count)});
  }
  return out;
}
const std::vector<ParameterInfo>& CompiledNetwork::parameters() const { return impl_->parameters; }
int64_t CompiledNetwork::parameter_floats() const { return impl_->plan.param_floats; }
int64_t CompiledNetwork::input_width() const { return impl_->plan.input_width; }
int64_t CompiledNetwork::output_width() const { return impl_->plan.output_width; }
int CompiledNetwork::threads() const { return impl_->pool->size(); }
const jit::CompileStats& CompiledNetwork::compile_stats() const { return impl_->code->stats(); }
std::span<const float> CompiledNetwork::workspace() const { return {impl_->workspace.get(), impl_->workspace_size}; }
const llvm_backend::NetworkPlan& CompiledNetwork::plan() const { return impl_->plan; }
std::vector<std::string> CompiledNetwork::state_names() const {
  std::vector<std::string> names;
  for (const auto& s : impl_->plan.states) names.push_back(s.name);
  return names;
}
int64_t CompiledNetwork::state_width(size_t state, size_t unit) const { return impl_->plan.states.at(state).width.at(unit); }
int64_t CompiledNetwork::state_floats(size_t state) const { return state_floats_of(impl_->plan, state); }

void CompiledNetwork::forward(std::span<const float> params, NetworkInput input,
                              const std::vector<std::span<const float>>& initial_states, std::span<float> y,
                              const std::vector<std::span<float>>& final_states, const CallOptions& call) {
  const NetworkPlan& plan = impl_->plan;
  const auto& s = plan.sizes;
  check_buffer("params", params.size(), plan.param_floats, params.data());
  const std::span<const float> x = checked_input(plan, input);
  check_steps("y", y, s, "Y", plan.output_width);
  check_states("initial_states", initial_states.size(), plan);
  check_states("final_states", final_states.size(), plan);
  std::vector<void*> slots(llvm_backend::kFirstStateSlot + 4 * plan.states.size(), nullptr);
  for (size_t k = 0; k < plan.states.size(); ++k) {
    const std::string name = "initial state '" + plan.states[k].name + "'";
    check_buffer(name.c_str(), initial_states[k].size(), state_floats_of(plan, k), initial_states[k].data());
    const std::string final_name = "final state '" + plan.states[k].name + "'";
    check_buffer(final_name.c_str(), final_states[k].size(), state_floats_of(plan, k), final_states[k].data());
    slots[llvm_backend::initial_state_slot(static_cast<int>(k))] = const_cast<float*>(initial_states[k].data());
    slots[llvm_backend::final_state_slot(static_cast<int>(k))] = final_states[k].data();
  }
  {
    std::vector<NamedBuffer> buffers = {{"params", params.data(), params.size(), false},
                                        {"x", x.data(), x.size(), false},
                                        {"y", y.data(), y.size(), true}};
    for (size_t k = 0; k < plan.states.size(); ++k) {
      buffers.push_back({"initial state '" + plan.states[k].name + "'", initial_states[k].data(), initial_states[k].size(), false});
      buffers.push_back({"final state '" + plan.states[k].name + "'", final_states[k].data(), final_states[k].size(), true});
    }
    check_no_overlap(buffers);
  }
  if (impl_->options.strict) {
    if (!input.is_one_hot()) check_finite("x", x, s.batch, plan.input_width);
    for (size_t k = 0; k < plan.states.size(); ++k)
      for (size_t u = 0; u < plan.units.size(); ++u) {
        const int64_t w = plan.states[k].width[u];
        if (!w) continue;
        std::span<const float> part = initial_states[k].subspan(static_cast<size_t>(plan.states[k].offset[u]),
                                                                static_cast<size_t>(s.batch * w));
        for (size_t i = 0; i < part.size(); ++i)
          if (!std::isfinite(part[i]))
            user_error("non-finite value (", std::isnan(part[i]) ? "NaN" : "Inf", ") in initial state '",
                       plan.states[k].name, "' at layer ", plan.units[u].layer,
                       plan.units[u].direction ? " (backward direction)" : "", ", batch row ",
                       i / static_cast<size_t>(w), ", feature ", i % static_cast<size_t>(w));
      }
    for (const auto& p : impl_->parameters)
      for (int64_t i = 0; i < p.size(); ++i)
        if (!std::isfinite(params[static_cast<size_t>(p.offset + i)]))
          user_error("non-finite value in parameter '", p.name, "' of layer ", p.layer, " at element ", i);
  }
  // Weight drop: a training call runs on a masked copy of the parameters.
  const bool drop_weights = call.training && !impl_->dropped_regions.empty();
  // Weights packed by the last forward call are used again when the caller says the parameters
  // have not changed since (and neither call dropped weights); strict mode checks the claim
  // against a copy of what was packed.
  const bool reuse_packed = call.parameters_unchanged && impl_->forward_packed && !drop_weights && !impl_->weights_dropped;
  if (reuse_packed && impl_->options.strict)
    for (const auto& p : impl_->parameters)
      for (int64_t i = 0; i < p.size(); ++i) {
        const size_t at = static_cast<size_t>(p.offset + i);
        if (std::memcmp(&params[at], &impl_->packed_from[at], sizeof(float)) != 0)
          user_error("CallOptions::parameters_unchanged is set, but parameter '", p.name, "' of layer ", p.layer,
                     " changed at element ", i, " since the call that packed it (", impl_->packed_from[at], " -> ",
                     params[at], "); leave parameters_unchanged false after changing the parameters");
      }
  check_lengths(plan, call);
  // Everything is checked. From here on the call changes the network's state: until it has run,
  // there is no forward for backward() to follow.
  impl_->forward_done = false;
  fill_call_inputs(plan, impl_->workspace.get(), call, *impl_->pool);
  if (input.is_one_hot()) expand_one_hot(plan, impl_->workspace.get(), input.indices());
  if (drop_weights) drop_parameters(*impl_, params, call.dropout_seed);
  impl_->weights_dropped = drop_weights;
  slots[llvm_backend::kInput] = const_cast<float*>(x.data());
  slots[llvm_backend::kOutput] = y.data();
  slots[llvm_backend::kParams] = const_cast<float*>(drop_weights ? impl_->dropped_params.data() : params.data());
  slots[llvm_backend::kWorkspace] = impl_->workspace.get();
  slots[llvm_backend::kTelemetry] = impl_->telemetry.data();
  slots[llvm_backend::kReusePacked] = reuse_packed ? impl_.get() : nullptr;
  EntryPoint entry = impl_->forward;
  void* barrier = &impl_->pool->barrier();
  impl_->forward_packed = false;  // until the call has packed them
  impl_->pool->run([&](int thread, int threads) { entry(slots.data(), thread, threads, barrier); });
  impl_->forward_done = true;
  impl_->forward_packed = true;
  if (!reuse_packed && impl_->options.strict) impl_->packed_from.assign(params.begin(), params.end());
}

void CompiledNetwork::backward(std::span<const float> params, NetworkInput input, std::span<const float> dy,
                               const std::vector<std::span<const float>>& d_final_states, std::span<float> dparams,
                               std::span<float> dx, const std::vector<std::span<float>>& d_initial_states) {
  const NetworkPlan& plan = impl_->plan;
  const auto& s = plan.sizes;
  if (!impl_->forward_done) user_error("backward() needs a forward() of the same parameters and inputs first");
  check_buffer("params", params.size(), plan.param_floats, params.data());
  const std::span<const float> x = checked_input(plan, input);
  check_steps("dy", dy, s, "Y", plan.output_width);
  check_buffer("dparams", dparams.size(), plan.param_floats, dparams.data());
  if (plan.spec.input_gradient)
    check_steps("dx", dx, s, "X", plan.input_width);
  else if (!dx.empty())
    user_error("dx has ", dx.size(), " floats, but the network was compiled without an input gradient "
               "(NetworkSpec::input_gradient = false): pass an empty dx, or compile with input_gradient = true");
  check_states("d_final_states", d_final_states.size(), plan);
  check_states("d_initial_states", d_initial_states.size(), plan);
  std::vector<void*> slots(llvm_backend::kFirstStateSlot + 4 * plan.states.size(), nullptr);
  for (size_t k = 0; k < plan.states.size(); ++k) {
    const std::string name = "d_final state '" + plan.states[k].name + "'";
    check_buffer(name.c_str(), d_final_states[k].size(), state_floats_of(plan, k), d_final_states[k].data());
    const std::string initial_name = "d_initial state '" + plan.states[k].name + "'";
    check_buffer(initial_name.c_str(), d_initial_states[k].size(), state_floats_of(plan, k), d_initial_states[k].data());
    slots[llvm_backend::d_final_state_slot(static_cast<int>(k))] = const_cast<float*>(d_final_states[k].data());
    slots[llvm_backend::d_initial_state_slot(static_cast<int>(k))] = d_initial_states[k].data();
  }
  {
    std::vector<NamedBuffer> buffers = {{"params", params.data(), params.size(), false},
                                        {"x", x.data(), x.size(), false},
                                        {"dy", dy.data(), dy.size(), false},
                                        {"dparams", dparams.data(), dparams.size(), true},
                                        {"dx", dx.data(), dx.size(), true}};
    for (size_t k = 0; k < plan.states.size(); ++k) {
      buffers.push_back({"d_final state '" + plan.states[k].name + "'", d_final_states[k].data(), d_final_states[k].size(), false});
      buffers.push_back({"d_initial state '" + plan.states[k].name + "'", d_initial_states[k].data(), d_initial_states[k].size(), true});
    }
    check_no_overlap(buffers);
  }
  if (impl_->options.strict) check_finite("dy", dy, s.batch, plan.output_width);
  slots[llvm_backend::kInput] = const_cast<float*>(x.data());
  slots[llvm_backend::kParams] = const_cast<float*>(impl_->weights_dropped ? impl_->dropped_params.data() : params.data());
  slots[llvm_backend::kGrads] = dparams.data();
  slots[llvm_backend::kDOutput] = const_cast<float*>(dy.data());
  slots[llvm_backend::kDInput] = dx.data();
  slots[llvm_backend::kWorkspace] = impl_->workspace.get();
  slots[llvm_backend::kTelemetry] = impl_->telemetry.data();
  EntryPoint entry = impl_->backward;
  void* barrier = &impl_->pool->barrier();
  impl_->pool->run([&](int thread, int threads) { entry(slots.data(), thread, threads, barrier); });
  // dL/dW = dL/d(W * mask) * mask for a dropped parameter.
  if (impl_->weights_dropped)
    for (const Impl::DroppedRegion& r : impl_->dropped_regions)
      for (int64_t i = r.offset; i < r.offset + r.size; ++i) dparams[static_cast<size_t>(i)] *= impl_->weight_masks[static_cast<size_t>(i)];
}

std::string emit_network(const ir::Graph& cell, const ir::NetworkSizes& sizes, jit::Stage stage,
                         const NetworkOptions& options) {
  return emit_network(ir::NetworkSpec::stack(cell, sizes), stage, options);
}

std::string emit_network(const ir::NetworkSpec& spec, jit::Stage stage, const NetworkOptions& options) {
  NetworkPlan plan = llvm_backend::plan_network(spec, options.passes);
  plan.fused_vector_width = fused_vector_width(options);
  return jit::emit(llvm_backend::network_builder(plan), stage, options.opt_level);
}

}  // namespace cellforge
