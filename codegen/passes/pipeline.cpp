// The pass pipeline: from a cell's step graph to the schedules of its forward and backward scans.
// Read top to bottom, this is the order in which a cell is compiled; each step logs its result so
// that `cellforge inspect --emit sched` can show the graph after every pass.
#include <sstream>
#include <tuple>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/network_spec.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

std::string print_schedule(const ScanSchedule& s) {
  std::vector<int> group_of(s.graph.size(), -1);
  std::vector<std::string> recomputed_in(s.graph.size());
  for (size_t k = 0; k < s.groups.size(); ++k) {
    for (ir::NodeId id : s.groups[k].nodes) group_of[id] = static_cast<int>(k);
    for (ir::NodeId id : s.groups[k].recomputed)
      recomputed_in[id] += (recomputed_in[id].empty() ? "" : ", ") + std::to_string(k);
  }
  return ir::print(s.graph, [&](ir::NodeId id) -> std::string {
    const ir::Node& n = s.graph.node(id);
    if (ir::op_family(n.op) == ir::OpFamily::Leaf) {
      if (n.op == ir::Op::constant) return "";
      for (ir::NodeId c : s.carried_leaves)
        if (c == id) return "carried from the previous step";
      return n.op == ir::Op::param ? "" : "read per step";
    }
    if (s.folded[id]) return "folded at compile time";
    std::ostringstream note;
    note << phase_name(s.phase[id]);
    if (s.phase[id] != Phase::shared) note << " stage " << s.stage[id];
    if (group_of[id] >= 0) note << ", fused loop " << group_of[id];
    else if (n.op == ir::Op::slice) note << ", view";
    else if (n.op == ir::Op::matmul || n.op == ir::Op::matmul_t || n.op == ir::Op::outer) note << ", gemm";
    else if (n.op == ir::Op::batch_sum) note << ", row sum";
    if (s.accumulate[id]) note << ", added up over the steps";
    if (s.materialized[id]) note << ", stored";
    if (!recomputed_in[id].empty()) note << ", recomputed in fused loop " << recomputed_in[id];
    return note.str();
  });
}

LayerSchedule schedule_layer(const ir::Graph& cell, const PassOptions& options, bool input_gradient, int64_t batch) {
  LayerSchedule out;
  auto log = [&](const std::string& pass, const ir::Graph& g) { out.log.push_back({pass, ir::print(g)}); };

  ir::verify_cell(cell);
  log("cell", cell);
  ir::Graph backward = autodiff::differentiate(cell);
  log("differentiate", backward);

  auto [forward_saving, backward_reading] = choose_saved(cell, backward);
  log("choose_saved (forward)", forward_saving);
  log("choose_saved (backward)", backward_reading);

  ir::Graph fwd = std::move(forward_saving), bwd = std::move(backward_reading);
  // After choose_saved, which needs the backward graph to start with the whole forward graph.
  if (!input_gradient) {
    std::tie(fwd, bwd) = drop_input_gradient(fwd, bwd, ir::input_name(cell));
    log("drop_input_gradient (forward)", fwd);
    log("drop_input_gradient (backward)", bwd);
  }
  if (options.simplify) {
    fwd = simplify(fwd);
    bwd = simplify(bwd);
    log("simplify (forward)", fwd);
    log("simplify (backward)", bwd);
  }
  if (options.sink_slices) {
    fwd = sink_slices(fwd);
    bwd = sink_slices(bwd);
    log("sink_slices (forward)", fwd);
    log("sink_slices (backward)", bwd);
  }
  ir::verify(fwd);
  ir::verify(bwd);

  // The forward is hoisted only for small batches (PassOptions::hoist_forward_below_batch).
  const bool hoist_forward = options.hoist_time_parallel && (options.hoist_forward_below_batch <= 0 ||
                                                             batch < options.hoist_forward_below_batch);
  out.forward = hoist_time_parallel(fwd, /*reverse=*/false, hoist_forward);
  fuse_elementwise(out.forward, options.fuse_elementwise);
  rematerialize(out.forward, options.rematerialize && options.fuse_elementwise);
  out.backward = hoist_time_parallel(bwd, /*reverse=*/true, options.hoist_time_parallel);
  fuse_elementwise(out.backward, options.fuse_elementwise);
  rematerialize(out.backward, options.rematerialize && options.fuse_elementwise);
  out.log.push_back({"schedule (forward)", print_schedule(out.forward)});
  out.log.push_back({"schedule (backward)", print_schedule(out.backward)});
  return out;
}

}  // namespace cellforge::passes
