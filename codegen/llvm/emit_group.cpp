// Lowering of a fused elementwise group: one loop nest over the rows of the group's phase and the
// features of its width, computing every node of the group in vector registers, 8 floats at a time
// (a scalar loop takes the last width % 8 features), storing only the values that are read outside
// the group. Row reductions (sum, mean) accumulate inside the same loop and are stored once per row.
// Cheap values of earlier loops listed as recomputed are computed again first, and never stored.
//
// The work is split among threads by rows, or by rows and blocks of 64 features when there are no
// row reductions and the rows are fewer than 8 (batch 1); in a time loop split by features
// (ScanPlan::feature_split), by the thread's features. Every output element is computed by exactly one
// thread with the same instructions, so results do not depend on the number of threads. A result
// that lives in two places (a state that is also the output) is stored to both by the loop.
#include <algorithm>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/llvm/lowering_context.hpp"
#include "codegen/llvm/math.hpp"

namespace cellforge::llvm_backend {

using ir::NodeId;
using ir::Op;

namespace {

constexpr int64_t kColumnBlock = kFeatureGranule;

bool is_row_reduction(Op op) { return op == Op::sum || op == Op::mean; }

llvm::Value* apply(Lowering& l, Op op, const std::vector<llvm::Value*>& a, const std::string& name) {
  auto& b = l.b();
  llvm::Type* type = a[0]->getType();
  auto constant = [&](double v) { return llvm::ConstantFP::get(type, v); };
  switch (op) {
    case Op::neg: return b.CreateFNeg(a[0], name);
    case Op::sigmoid: return emit_sigmoid(b, a[0], name);
    case Op::tanh: return emit_tanh(b, a[0], name);
    case Op::exp: return emit_exp(b, a[0], name);
    case Op::log: return emit_log(b, a[0], name);
    case Op::sqrt: return emit_sqrt(b, a[0], name);
    case Op::rsqrt: return emit_rsqrt(b, a[0], name);
    // relu(NaN) = 0 and step(NaN) = 0, as in the reference interpreter (a > 0 ? a : 0).
    case Op::relu: return b.CreateSelect(b.CreateFCmpOGT(a[0], constant(0)), a[0], constant(0), name);
    case Op::step: return b.CreateSelect(b.CreateFCmpOGT(a[0], constant(0)), constant(1), constant(0), name);
    case Op::stop_gradient: return a[0];
    case Op::add: return b.CreateFAdd(a[0], a[1], name);
    case Op::sub: return b.CreateFSub(a[0], a[1], name);
    case Op::mul: return b.CreateFMul(a[0], a[1], name);
    case Op::div: return b.CreateFDiv(a[0], a[1], name);
    case Op::broadcast: return a[0];        // the operand is already splat across the lanes
    case Op::batch_broadcast: return a[0];  // the shared operand is read from its one row
    default: internal_error("emit_group: op ", ir::op_name(op), " is not elementwise");
  }
}

int64_t group_width(const ScanPlan& scan, const passes::FusionGroup& group) {
  return group.width.bind(scan.bindings) * (group.cols.is_zero() ? 1 : group.cols.bind(scan.bindings));
}

bool has_row_reduction(const ir::Graph& g, const passes::FusionGroup& group) {
  for (NodeId id : group.nodes)
    if (is_row_reduction(g.node(id).op)) return true;
  return false;
}

// Whether the group's work is split into rows x blocks of kColumnBlock features: a wide group
// without row reductions that has few rows (a shared group has one).
bool splits_by_blocks(const Lowering& l, const ScanPlan& scan, const passes::FusionGroup& group, int64_t rows) {
  return !has_row_reduction(l.plan().schedule_of(scan).graph, group) && group_width(scan, group) > kColumnBlock &&
         (group.shared || rows < kRowsToSplit);
}

}  // namespace

bool group_splits_by_features(const ScanPlan& scan, const passes::FusionGroup& group) {
  return scan.feature_split > 0 && group.phase == passes::Phase::loop;
}

bool group_splits_by_rows(const Lowering& l, const ScanPlan& scan, const passes::FusionGroup& group, int64_t rows) {
  return !group.shared && !group_splits_by_features(scan, group) && !splits_by_blocks(l, scan, group, rows);
}

bool group_writes_copy(const ScanPlan& scan, const passes::ScanSchedule& s, const ResultCopy& copy) {
  const ir::Graph& g = s.graph;
  if (is_row_reduction(g.node(copy.node).op) || g.type(copy.node).is_matrix() || g.type(copy.node).shared) return false;
  for (const passes::FusionGroup& group : s.groups)
    if (std::find(group.nodes.begin(), group.nodes.end(), copy.node) != group.nodes.end())
      return !group.shared && group.cols.is_zero() && scan.width[copy.node] == group_width(scan, group);
  return false;
}

void emit_group(Lowering& l, const ScanPlan& scan, const passes::FusionGroup& group, llvm::Value* step,
                llvm::Value* rows) {
  auto& b = l.b();
  const passes::ScanSchedule& s = l.plan().schedule_of(scan);
  const ir::Graph& g = s.graph;
  const std::vector<std::string> names = ir::printed_names(g);
  // A group of matrices runs over all their elements: rows of `cols` floats are contiguous (every
  // matrix lives in a buffer of its own, stride = cols), and a matrix is shared, so has one "row".
  const int64_t width = group_width(scan, group);
  const auto* constant_rows = llvm::dyn_cast<llvm::ConstantInt>(rows);
  if (!constant_rows) internal_error("emit_group: the number of rows is not a constant");
  const bool by_blocks = splits_by_blocks(l, scan, group, constant_rows->getSExtValue());
  if (group.shared) rows = l.int64(1);  // a shared value has one row whatever the phase
  const int vector_lanes = l.options().vector_width;

  // Accumulators of the row reductions live in the entry block (promoted to registers later).
  std::vector<llvm::Value*> vector_sum(g.size(), nullptr), scalar_sum(g.size(), nullptr);
  for (NodeId id : group.nodes)
    if (is_row_reduction(g.node(id).op)) {
      vector_sum[id] = l.entry_alloca(l.vector(vector_lanes), names[id] + ".vsum");
      scalar_sum[id] = l.entry_alloca(l.f32(), names[id] + ".ssum");
    }

  // Results this group also writes to their second places (instead of a copy after it).
  std::vector<std::vector<const ResultCopy*>> copies_here(g.size());
  for (const ResultCopy& copy : scan.copies)
    if (group_writes_copy(scan, s, copy) &&
        std::find(group.nodes.begin(), group.nodes.end(), copy.node) != group.nodes.end())
      copies_here[copy.node].push_back(&copy);

  // One pass over features [j, j + lanes) of row r.
  auto compute = [&](llvm::Value* r, llvm::Value* j, int lanes) {
    std::vector<llvm::Value*> value(g.size(), nullptr);
    llvm::Type* type = lanes == 1 ? l.f32() : static_cast<llvm::Type*>(l.vector(lanes));
    auto splat = [&](llvm::Value* scalar) { return lanes == 1 ? scalar : b.CreateVectorSplat(lanes, scalar); };
    auto operand = [&](NodeId a) -> llvm::Value* {
      if (value[a]) return value[a];
      if (s.folded[a]) return splat(llvm::ConstantFP::get(l.f32(), scan.folded_value[a]));
      const Location& where = scan.location[a];
      if (!where.valid())
        internal_error("emit_group: operand %", names[a], " of a fused loop has no location\n", ir::print(g));
      llvm::Value* row = g.type(a).shared ? l.int64(0) : r;
      if (scan.width[a] == 1 && width != 1)
        return splat(b.CreateAlignedLoad(l.f32(), l.address(where, step, row, l.int64(0)), llvm::Align(4), names[a]));
      return b.CreateAlignedLoad(type, l.address(where, step, row, j), llvm::Align(4), names[a]);
    };
    // Values of earlier loops this one computes again instead of reading them (rematerialize):
    // in registers only; their own loops store them if they are stored at all.
    for (NodeId id : group.recomputed) {
      std::vector<llvm::Value*> args;
      for (NodeId a : g.node(id).args) args.push_back(operand(a));
      value[id] = apply(l, g.node(id).op, args, names[id]);
    }
    for (NodeId id : group.nodes) {
      const ir::Node& n = g.node(id);
      if (is_row_reduction(n.op)) {
        llvm::Value* v = operand(n.args[0]);
        llvm::Value* sum = lanes == 1 ? scalar_sum[id] : vector_sum[id];
        b.CreateStore(b.CreateFAdd(b.CreateLoad(type, sum), v), sum);
        continue;
      }
      std::vector<llvm::Value*> args;
      for (NodeId a : n.args) args.push_back(operand(a));
      value[id] = apply(l, n.op, args, names[id]);
      if (s.materialized[id] || scan.location[id].valid())  // materialized, or kept for telemetry
        b.CreateAlignedStore(value[id], l.address(scan.location[id], step, r, j), llvm::Align(4));
      for (const Location& where : scan.also_at[id])  // its slots in further concatenations
        b.CreateAlignedStore(value[id], l.address(where, step, r, j), llvm::Align(4));
      for (const ResultCopy* copy : copies_here[id]) {  // its second places (copy.add: added into)
        llvm::Value* target = l.address(copy->to, step, r, j);
        llvm::Value* v = value[id];
        if (copy->add) v = b.CreateFAdd(b.CreateAlignedLoad(type, target, llvm::Align(4)), v);
        b.CreateAlignedStore(v, target, llvm::Align(4));
      }
    }
  };

  auto row_pass = [&](llvm::Value* r, llvm::Value* j0, llvm::Value* j1) {
    for (NodeId id : group.nodes)
      if (vector_sum[id]) {
        b.CreateStore(llvm::Constant::getNullValue(l.vector(vector_lanes)), vector_sum[id]);
        b.CreateStore(llvm::ConstantFP::get(l.f32(), 0.0), scalar_sum[id]);
      }
    llvm::Value* count = b.CreateSub(j1, j0);
    llvm::Value* vector_end = b.CreateAdd(j0, b.CreateMul(b.CreateSDiv(count, l.int64(vector_lanes)), l.int64(vector_lanes)));
    l.emit_for(j0, vector_end, vector_lanes, "j", [&](llvm::Value* j) { compute(r, j, vector_lanes); });
    l.emit_for(vector_end, j1, 1, "j_tail", [&](llvm::Value* j) { compute(r, j, 1); });
    for (NodeId id : group.nodes) {
      if (!vector_sum[id]) continue;
      llvm::Value* lanes = b.CreateLoad(l.vector(vector_lanes), vector_sum[id]);
      // The lanes add up as a tree (reassociation allowed on this one call): log2(lanes) dependent
      // adds instead of a chain of `lanes`, in the same fixed order on every thread.
      llvm::CallInst* total = b.CreateFAddReduce(b.CreateLoad(l.f32(), scalar_sum[id]), lanes);
      total->setHasAllowReassoc(true);
      llvm::Value* result = total;
      if (g.node(id).op == Op::mean)
        result = b.CreateFDiv(result, llvm::ConstantFP::get(l.f32(), static_cast<double>(width)));
      result->setName(names[id]);
      b.CreateAlignedStore(result, l.address(scan.location[id], step, g.type(id).shared ? l.int64(0) : r, l.int64(0)),
                           llvm::Align(4));
    }
  };

  if (group_splits_by_features(scan, group)) {
    auto [j0, j1] = l.feature_range(scan);
    l.emit_for(l.int64(0), rows, 1, "row", [&](llvm::Value* r) { row_pass(r, j0, j1); });
  } else if (!by_blocks) {
    auto [begin, end] = l.row_range(scan, rows);
    l.emit_for(begin, end, 1, "row", [&](llvm::Value* r) { row_pass(r, l.int64(0), l.int64(width)); });
  } else {
    const int64_t blocks = (width + kColumnBlock - 1) / kColumnBlock;
    auto [begin, end] = l.thread_range(b.CreateMul(rows, l.int64(blocks)));
    l.emit_for(begin, end, 1, "block", [&](llvm::Value* item) {
      llvm::Value* r = b.CreateSDiv(item, l.int64(blocks), "row");
      llvm::Value* j0 = b.CreateMul(b.CreateSRem(item, l.int64(blocks)), l.int64(kColumnBlock));
      llvm::Value* j1 = b.CreateAdd(j0, l.int64(kColumnBlock));
      j1 = b.CreateSelect(b.CreateICmpSLT(j1, l.int64(width)), j1, l.int64(width));
      row_pass(r, j0, j1);
    });
  }
}

}  // namespace cellforge::llvm_backend
