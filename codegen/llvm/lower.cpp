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

// How a piece of work divides among threads what it writes or what it reads of the writes before
// it: by rows of the phase (as row_range splits them), by features of a step split by features
// (feature_range: column c of a value belongs to the thread owning feature c mod F), not at all
// (anything else: a product split by plain columns, a loop split by feature blocks, a shared
// value, a copy of a matrix), or nothing (work that writes nothing, as an assembly all of whose
// parts were computed in place).
enum class Split { nothing, rows, features, none };

// Writes since the last barrier that other threads may not see yet, and how they were split. Work
// that reads only its own thread's part of them, split the same way, runs after them without a
// barrier: a chain of row-split loops (a layer norm's mean, variance and normalization), a time
// loop whose products split rows too (ProductPlan::split_rows), from step to step, and within a
// step split by features, the fused loops after the products.
struct Unsynced {
  bool pending = false;
  Split split = Split::nothing;
};

// A product of the time loop that computes this thread's rows of the step from this thread's rows
// of A and weights packed before the loop: it reads and writes by rows.
bool product_row_local(const ScanPlan& scan, const passes::ScanSchedule& s, NodeId node) {
  const ProductPlan* product = scan.product(node);
  const ir::Node& n = s.graph.node(node);
  return product && product->split_rows && product->spec.b == GemmB::prepacked && s.phase[node] == Phase::loop &&
         n.op != Op::outer && !s.graph.type(n.args[1]).shared;
}

// How a product divides what it writes: in a time loop split by features, a GEMM its columns and
// a column sum its features.
Split product_writes(const ScanPlan& scan, const passes::ScanSchedule& s, NodeId node) {
  if (product_row_local(scan, s, node)) return Split::rows;
  if (scan.feature_split > 0 && s.phase[node] == Phase::loop) return Split::features;
  return Split::none;
}

// How a product divides what it reads: a GEMM split by columns reads all of A, a column sum split
// by features only its features.
Split product_reads(const ScanPlan& scan, const passes::ScanSchedule& s, NodeId node) {
  if (product_row_local(scan, s, node)) return Split::rows;
  if (scan.feature_split > 0 && s.phase[node] == Phase::loop && s.graph.node(node).op == Op::batch_sum)
    return Split::features;
  return Split::none;
}

// How an assembly divides what it copies: nothing when every part was computed in its place.
Split assembly_writes(const ScanPlan& scan, const passes::ScanSchedule& s, NodeId node) {
  const ir::Node& n = s.graph.node(node);
  bool copies = n.op != Op::concat;  // a pad writes its zeros
  int64_t offset = 0;
  for (NodeId part : n.args) {
    copies = copies || !assembly_part_in_place(scan, node, part, offset);
    offset += scan.width[part];
  }
  if (!copies) return Split::nothing;
  if (concat_copied_by_features(s, scan, node, scan.feature_split)) return Split::features;
  return s.graph.type(node).shared ? Split::none : Split::rows;
}

// The split of two kinds of work together.
Split combined(Split a, Split b) {
  if (a == Split::nothing) return b;
  if (b == Split::nothing) return a;
  return a == b ? a : Split::none;
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
  // Work of one kind in a stage that reads the unsynced writes split as `reads` and writes split
  // as `writes`: wait first unless it reads only this thread's part of them.
  auto run = [&](Split reads, Split writes, const std::function<void()>& work) {
    if (reads == Split::none || combined(state.split, reads) == Split::none) sync(l, state, emit);
    if (emit) work();
    state.split = combined(state.split, writes);
    state.pending = state.split != Split::nothing;
  };
  for (int stage = 1; stage < s.stages(phase); ++stage) {
    std::vector<NodeId> products;
    Split products_read = Split::nothing, products_write = Split::nothing;
    for (const passes::Product& p : s.products)
      if (p.phase == phase && p.stage == stage) {
        products.push_back(p.node);
        products_read = combined(products_read, product_reads(scan, s, p.node));
        products_write = combined(products_write, product_writes(scan, s, p.node));
      }
    if (!products.empty()) {
      run(products_read, products_write, [&] {
        for (NodeId id : products) emit_product(l, scan, id, step, rows);
      });
      // The stage's loops read the products: columns split among threads are all needed.
      if (products_write == Split::none) wait(l, state, emit);
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
    Split groups_split = Split::nothing;
    for (const passes::FusionGroup* group : groups)
      groups_split = combined(groups_split, group_splits_by_features(scan, *group) ? Split::features
                                            : group_splits_by_rows(l, scan, *group, row_count) ? Split::rows
                                                                                               : Split::none);
    Split assemblies_split = Split::nothing;
    for (NodeId id : assemblies) assemblies_split = combined(assemblies_split, assembly_writes(scan, s, id));
    if (!groups.empty())
      run(groups_split, groups_split, [&] {
        for (const passes::FusionGroup* group : groups) emit_group(l, scan, *group, step, rows);
      });
    // An assembly reads the parts its stage's groups wrote, row by row.
    if (!assemblies.empty())
      run(assemblies_split, assemblies_split, [&] {
        for (NodeId id : assemblies) emit_assembly(l, scan, id, step, rows);
      });
    // Results that are two places at once: copy to the second when the value is ready, unless its
    // fused loop wrote both (the LSTM's h to the layer output). A copy of a per-row vector runs
    // over the threads' rows as the row-split loops do, so after such loops it reads only what its
    // own thread wrote.
    std::vector<const ResultCopy*> copies;
    bool copies_by_rows = true;
    for (const ResultCopy& c : scan.copies) {
      bool computed_here = !s.folded[c.node] && g.node(c.node).op != Op::slice &&
                           ir::op_family(g.node(c.node).op) != ir::OpFamily::Leaf && s.phase[c.node] == phase &&
                           s.stage[c.node] == stage;
      if (!computed_here || group_writes_copy(scan, s, c)) continue;
      copies.push_back(&c);
      copies_by_rows = copies_by_rows && !g.type(c.node).is_matrix() && !g.type(c.node).shared;
    }
    const Split copies_split = copies_by_rows ? Split::rows : Split::none;
    if (!copies.empty())
      run(copies_split, copies_split, [&] {
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
  // A step ends with a barrier unless all it left unsynced is split by rows or by features: then
  // the next step starts with those writes pending (a walk of the step without emitting tells
  // which), and one barrier after the loop covers the last step's.
  Unsynced carried;
  emit_phase(l, scan, Phase::loop, nullptr, l.int64(B), carried, /*emit=*/false);
  if (carried.split == Split::none) carried = {};
  state = carried;
  l.emit_for(l.int64(0), l.int64(T), 1, scan.reverse ? "step_back" : "step", [&](llvm::Value* k) {
    llvm::Value* t = scan.reverse ? b.CreateSub(l.int64(T - 1), k, "t") : k;
    Unsynced step_state = carried;
    emit_phase(l, scan, Phase::loop, t, l.int64(B), step_state);
    if (step_state.split == Split::none) sync(l, step_state);
    if (step_state.pending != carried.pending || step_state.split != carried.split)
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
