// Lowering of a whole network: the entry functions, the layers in order (forward: bottom to top;
// backward: top to bottom), and each layer's scan as its phases in order — shared values once,
// then the time-parallel work before the loop, the time loop itself, the time-parallel work after
// it. Within a phase, each stage runs its products, then its fused loops, with a barrier wherever a
// thread may read what another wrote.
#include "codegen/llvm/lower.hpp"

#include <functional>

#include "codegen/ir/error.hpp"
#include "codegen/llvm/lowering_context.hpp"

namespace cellforge::llvm_backend {

using ir::NodeId;
using ir::Op;
using passes::Phase;

namespace {

// The phase whose work makes the value of `id` available.
Phase source_phase(const passes::ScanSchedule& s, NodeId id) {
  const ir::Node& n = s.graph.node(id);
  if (n.op == Op::slice) return source_phase(s, n.args[0]);
  if (s.folded[id] || n.op == Op::param) return Phase::shared;
  return s.phase[id];
}

// Copies a result's value to its second place: all rows of the phase, one row of a shared vector,
// or every row of a matrix.
void copy_value(Lowering& l, const ScanPlan& scan, const ResultCopy& c, llvm::Value* step, llvm::Value* rows) {
  const ir::Type& type = l.plan().schedule_of(scan).graph.type(c.node);
  if (type.is_matrix())
    l.copy_rows(scan.location[c.node], c.to, step, l.int64(scan.width[c.node]), scan.cols[c.node], c.add,
                scan.row_granule);
  else
    l.copy_rows(scan.location[c.node], c.to, step, type.shared ? l.int64(1) : rows, scan.width[c.node], c.add,
                scan.row_granule);
}

// Writes since the last barrier that other threads may not see yet, and whether each thread
// wrote only its own rows of the phase (as row_range splits them). Work split the same way by
// rows reads only what its own thread wrote, so it runs after such writes without a barrier: a
// chain of row-split loops (a layer norm's mean, variance and normalization), and a time loop
// whose products split rows too (ProductPlan::split_rows), from step to step. Anything else (a
// product split by columns, a loop split by feature blocks, a shared value, a copy of a matrix)
// waits for all of it.
struct Unsynced {
  bool pending = false;
  bool row_local = true;
};

// Whether a product of the time loop computes this thread's rows of the step from this thread's
// rows of A and weights packed before the loop.
bool product_row_local(const ScanPlan& scan, const passes::ScanSchedule& s, NodeId node) {
  const ProductPlan* product = scan.product(node);
  const ir::Node& n = s.graph.node(node);
  return product && product->split_rows && product->spec.b == GemmB::prepacked && s.phase[node] == Phase::loop &&
         n.op != Op::outer && !s.graph.type(n.args[1]).shared;
}

void wait(Lowering& l, Unsynced& state, bool emit = true) {
  if (emit) l.barrier();
  state = {};
}

void sync(Lowering& l, Unsynced& state, bool emit = true) {
  if (state.pending) wait(l, state, emit);
}

// One phase's stages in order, each its products, then its fused loops, assemblies and copies,
// with a barrier wherever a thread may read what another wrote. `state` comes in as the writes
// before the phase and goes out as those after it that no barrier covers yet. With emit = false
// nothing is emitted: the walk only tells what state the phase leaves.
void emit_phase(Lowering& l, const ScanPlan& scan, Phase phase, llvm::Value* step, llvm::Value* rows,
                Unsynced& state, bool emit = true) {
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  const ir::Graph& g = s.graph;
  const int64_t row_count = llvm::cast<llvm::ConstantInt>(rows)->getSExtValue();
  // Work of one kind in a stage: wait first unless it and the unsynced writes are all row-local.
  auto run = [&](bool row_local, const std::function<void()>& work) {
    if (!(row_local && state.row_local)) sync(l, state, emit);
    if (emit) work();
    state.pending = true;
    state.row_local = state.row_local && row_local;
  };
  for (int stage = 1; stage < s.stages(phase); ++stage) {
    std::vector<NodeId> products;
    bool products_row_local = true;
    for (const passes::Product& p : s.products)
      if (p.phase == phase && p.stage == stage) {
        products.push_back(p.node);
        products_row_local = products_row_local && product_row_local(scan, s, p.node);
      }
    if (!products.empty()) {
      run(products_row_local, [&] {
        for (NodeId id : products) emit_product(l, scan, id, step, rows);
      });
      // The stage's loops read the products: columns split among threads are all needed.
      if (!products_row_local) wait(l, state, emit);
    }
    std::vector<const passes::FusionGroup*> groups;
    for (const passes::FusionGroup& group : s.groups)
      if (group.phase == phase && group.stage == stage) groups.push_back(&group);
    std::vector<NodeId> assemblies;
    for (NodeId id = 0; id < g.size(); ++id) {
      const ir::Node& n = g.node(id);
      if ((n.op == Op::concat || n.op == Op::pad) && s.phase[id] == phase && s.stage[id] == stage)
        assemblies.push_back(id);
    }
    bool groups_row_local = true;
    for (const passes::FusionGroup* group : groups)
      groups_row_local = groups_row_local && group_splits_by_rows(l, scan, *group, row_count);
    bool assemblies_row_local = true;
    for (NodeId id : assemblies) assemblies_row_local = assemblies_row_local && !g.type(id).shared;
    if (!groups.empty())
      run(groups_row_local, [&] {
        for (const passes::FusionGroup* group : groups) emit_group(l, scan, *group, step, rows);
      });
    // An assembly reads the parts its stage's groups wrote, row by row.
    if (!assemblies.empty())
      run(assemblies_row_local, [&] {
        for (NodeId id : assemblies) emit_assembly(l, scan, id, step, rows);
      });
    // Results that are two places at once: copy to the second when the value is ready, unless its
    // fused loop wrote both (the LSTM's h to the layer output). A copy of a per-row vector runs
    // over the threads' rows as the row-split loops do, so after such loops it reads only what its
    // own thread wrote.
    std::vector<const ResultCopy*> copies;
    bool copies_row_local = true;
    for (const ResultCopy& c : scan.copies) {
      bool computed_here = !s.folded[c.node] && g.node(c.node).op != Op::slice &&
                           ir::op_family(g.node(c.node).op) != ir::OpFamily::Leaf && s.phase[c.node] == phase &&
                           s.stage[c.node] == stage;
      if (!computed_here || group_writes_copy(scan, s, c)) continue;
      copies.push_back(&c);
      copies_row_local = copies_row_local && !g.type(c.node).is_matrix() && !g.type(c.node).shared;
    }
    if (!copies.empty())
      run(copies_row_local, [&] {
        for (const ResultCopy* c : copies) copy_value(l, scan, *c, step, rows);
      });
  }
  // Results that are leaves, views or constants: copied once their phase has run.
  std::vector<const ResultCopy*> leaf_copies;
  for (const ResultCopy& c : scan.copies) {
    const ir::Node& n = g.node(c.node);
    bool computed = !s.folded[c.node] && n.op != Op::slice && ir::op_family(n.op) != ir::OpFamily::Leaf;
    if (computed) continue;
    Phase from = source_phase(s, c.node);
    bool carried = false;
    for (NodeId leaf : s.carried_leaves) carried = carried || leaf == c.node;
    if (carried) from = Phase::loop;
    if (from == Phase::shared && phase == Phase::pre) from = Phase::pre;  // shared results are written per row
    if (from != phase) continue;
    if (s.folded[c.node]) internal_error("a result that is a constant is not supported yet");
    leaf_copies.push_back(&c);
  }
  if (!leaf_copies.empty()) {
    sync(l, state, emit);
    if (emit)
      for (const ResultCopy* c : leaf_copies) copy_value(l, scan, *c, step, rows);
    wait(l, state, emit);
  }
}

void emit_scan(Lowering& l, const ScanPlan& scan) {
  auto& b = l.b();
  const NetworkPlan& plan = l.plan();
  const int64_t T = plan.sizes.unroll, B = plan.sizes.batch;
  for (const Zeroing& z : scan.zero_first) l.zero_rows(z.where, z.rows, z.width);
  if (!scan.zero_first.empty()) l.barrier();
  emit_packing(l, scan);
  Unsynced state;
  emit_phase(l, scan, Phase::shared, nullptr, l.int64(1), state);
  sync(l, state);
  emit_phase(l, scan, Phase::pre, nullptr, l.int64(T * B), state);
  sync(l, state);
  // A step ends with a barrier unless all it left unsynced is per-row: then the next step starts
  // with those writes pending (a walk of the step without emitting tells which), and one barrier
  // after the loop covers the last step's.
  Unsynced carried;
  emit_phase(l, scan, Phase::loop, nullptr, l.int64(B), carried, /*emit=*/false);
  if (!carried.row_local) carried = {};
  state = carried;
  l.emit_for(l.int64(0), l.int64(T), 1, scan.reverse ? "step_back" : "step", [&](llvm::Value* k) {
    llvm::Value* t = scan.reverse ? b.CreateSub(l.int64(T - 1), k, "t") : k;
    Unsynced step_state = carried;
    emit_phase(l, scan, Phase::loop, t, l.int64(B), step_state);
    if (!step_state.row_local) sync(l, step_state);
    if (step_state.pending != carried.pending || step_state.row_local != carried.row_local)
      internal_error("emit_scan: a step leaves other unsynced writes than the walk of it said");
  });
  sync(l, state);
  emit_phase(l, scan, Phase::post, nullptr, l.int64(T * B), state);
  sync(l, state);
}

// The telemetry of the unit a scan belongs to: gate saturation after its forward scan, state
// gradient norms after its backward scan.
void emit_scan_telemetry(Lowering& l, const ScanPlan& scan) {
  const NetworkPlan& plan = l.plan();
  bool any = false;
  for (const TelemetrySeries& series : plan.telemetry) {
    const ir::Unit& unit = plan.units[static_cast<size_t>(series.unit)];
    const bool ours = unit.layer == scan.layer && unit.direction == scan.direction &&
                      (series.kind == TelemetrySeries::Kind::state_gradient_norm) == scan.backward_pass;
    if (!ours) continue;
    if (!any) l.barrier();
    emit_telemetry(l, series);
    any = true;
  }
}

void emit_copies(Lowering& l, const std::vector<StateCopy>& copies) {
  for (const StateCopy& c : copies) l.copy_rows(c.from, c.to, nullptr, l.int64(c.rows), c.width);
  if (!copies.empty()) l.barrier();
}

}  // namespace

std::unique_ptr<llvm::Module> lower_network(const NetworkPlan& plan, llvm::LLVMContext& context) {
  auto module = std::make_unique<llvm::Module>("cellforge." + plan.cell.name(), context);
  LowerOptions lower_options;
  lower_options.vector_width = plan.fused_vector_width;
  Lowering l(*module, plan, lower_options);

  l.begin_function("cf_forward");
  emit_copies(l, plan.forward_prologue);
  for (const ScanPlan& scan : plan.forward) {
    emit_scan(l, scan);
    emit_scan_telemetry(l, scan);
  }
  emit_copies(l, plan.forward_epilogue);
  l.end_function();

  l.begin_function("cf_backward");
  for (const Zeroing& z : plan.backward_zero_first) l.zero_rows(z.where, z.rows, z.width);
  emit_copies(l, plan.backward_prologue);
  // Layers top to bottom; within a layer the forward unit first: the backward-in-time unit adds
  // its gradient of the layer's input to the one the forward unit wrote.
  for (int64_t layer = plan.sizes.layers; layer-- > 0;)
    for (const ScanPlan& scan : plan.backward)
      if (scan.layer == layer) {
        emit_scan(l, scan);
        emit_scan_telemetry(l, scan);
      }
  emit_copies(l, plan.backward_epilogue);
  l.end_function();
  return module;
}

std::function<std::unique_ptr<llvm::Module>(llvm::LLVMContext&)> network_builder(const NetworkPlan& plan) {
  return [&plan](llvm::LLVMContext& context) { return lower_network(plan, context); };
}

}  // namespace cellforge::llvm_backend
