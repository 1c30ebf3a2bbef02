// The storage plan of a compiled network; see network_plan.hpp.
#include "codegen/llvm/network_plan.hpp"
#include "codegen/llvm/scan_planning.hpp"

#include <cmath>
#include <algorithm>
#include <functional>
#include <map>

#include "codegen/ir/error.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::llvm_backend {

using ir::Node;
using ir::NodeId;
using ir::Op;
using ir::Role;
using passes::Phase;

int initial_state_slot(int state) { return kFirstStateSlot + 4 * state; }
int final_state_slot(int state) { return kFirstStateSlot + 4 * state + 1; }
int d_final_state_slot(int state) { return kFirstStateSlot + 4 * state + 2; }
int d_initial_state_slot(int state) { return kFirstStateSlot + 4 * state + 3; }


int64_t Workspace::allocate(int64_t floats) {
  int64_t offset = size_;
  size_ += aligned(std::max<int64_t>(floats, 1));
  return offset;
}

int64_t padded_row_stride(int64_t width) { return width % 256 == 0 ? width + 16 : width; }

// How threads split a product: by rows of C or by columns.
//  - A tall product with a strided B (dW = dz^T x: M = 4H rows, N = X columns, K = T*B) by rows:
//    a column split packs all of A in every thread, a row split all of B, four times less twice
//    (measured at H = 256, T*B = 1600: half the rows took 0.49 of the whole product's time, half
//    the columns 0.59).
//  - A product in the time loop with prepacked weights by rows when the weights fit in half of L2
//    (each thread then reads all of them every step) and the step has a tile of rows per thread:
//    with the fused loops also split by rows, each thread runs the whole time loop on its own
//    rows, with no barrier per step. Larger weights stay split by columns, each thread keeping its
//    half in cache (all of them per thread cost 2-3% at H = 256; docs/design.md, "A time loop
//    without barriers").
namespace {
bool product_splits_rows(const GemmSpec& spec, bool in_loop) {
  const int64_t tile_rows = gemm_row_granule(spec);
  if (spec.b == GemmB::strided) return spec.m >= 2 * spec.n && spec.m >= 2 * tile_rows;
  return in_loop && spec.m >= 2 * tile_rows && gemm_packed_floats(spec) * 4 <= gemm_l2_bytes;
}

// The feature width by which threads split a time loop's step (ScanPlan::feature_split), or 0.
// It pays where the fused loops already split features (fewer than kRowsToSplit rows) and the
// loop's products are matrix-vector products of packed weights split by columns: a thread's
// columns of every product then become the columns of its features, and the barrier between the
// products and the fused loops goes, and with it the one before a concatenation copied by rows
// (docs/design.md, "A step split by features": two threads, B = 1, ~2% on a quiet machine, 22-29%
// with another busy process). Every condition below is what makes "a thread reads only what it
// wrote" true from the products to the end of the step:
//  - every fused loop of the step has the same width F, no row reduction, and reads a value the
//    step (or the one before) wrote only at a column offset that is a multiple of F, never as a
//    single broadcast float: column c of such a value is written by the thread owning feature
//    c mod F (products by construction, loops because their width is F);
//  - every product of the step is a matrix-vector product (fewer rows than a tile) of prepacked
//    weights with a multiple of F columns, F a multiple of the packed panels' width (one call
//    computes the thread's columns of every block, packing A once), or a column sum of F columns
//    (a peephole's weight gradient), which then sums the thread's features;
//  - a concatenation of the step whose parts are multiples of F wide (copied by features) reads
//    them as the loops do;
//  - every product reads its vector from a per-step sequence (step_stride != 0): after its last
//    read of step t, another thread may already write the next step's values, which then go to
//    other addresses.
int64_t loop_feature_split(const passes::ScanSchedule& s, const ScanPlan& plan, int64_t batch) {
  if (batch >= kRowsToSplit) return 0;
  const ir::Graph& g = s.graph;
  int64_t F = 0;
  bool any_group = false, any_product = false;
  for (const passes::FusionGroup& group : s.groups) {
    if (group.phase != Phase::loop) continue;
    if (group.shared || !group.cols.is_zero()) return 0;
    const int64_t width = group.width.bind(plan.bindings);
    if (any_group && width != F) return 0;
    F = width;
    any_group = true;
  }
  if (!any_group) return 0;
  // Whether an operand of the step, read at feature j, is read where this thread wrote it.
  auto carried = [&](NodeId id) {
    return std::find(s.carried_leaves.begin(), s.carried_leaves.end(), id) != s.carried_leaves.end();
  };
  auto read_at_own_features = [&](NodeId a) {
    if (s.folded[a]) return true;
    NodeId base = a;
    int64_t offset = 0;
    while (g.node(base).op == Op::slice) {
      offset += g.node(base).offset.bind(plan.bindings);
      base = g.node(base).args[0];
    }
    const bool written_in_loop = carried(base) || (s.phase[base] == Phase::loop && !s.folded[base] &&
                                                   ir::op_family(g.node(base).op) != ir::OpFamily::Leaf);
    return !written_in_loop || (offset % F == 0 && (plan.width[a] != 1 || F == 1));
  };
  for (const passes::Product& p : s.products) {
    if (p.phase != Phase::loop) continue;
    const Op op = g.node(p.node).op;
    if (op == Op::batch_sum) {  // a column sum over the step's rows: by features as the loops
      if (plan.width[p.node] != F || plan.cols[p.node] != 0 || !read_at_own_features(g.node(p.node).args[0])) return 0;
      continue;
    }
    const ProductPlan* product = plan.product(p.node);
    if (!product || (op != Op::matmul && op != Op::matmul_t) || !product->packed.valid() || product->split_rows)
      return 0;
    const GemmSpec& spec = product->spec;
    const int64_t panel = gemm_column_granule(spec);
    if (spec.m >= gemm_row_granule(spec) || spec.n % F != 0 || F % panel != 0 || kFeatureGranule % panel != 0)
      return 0;
    if (plan.location[g.node(p.node).args[1]].step_stride == 0) return 0;
    any_product = true;
  }
  if (!any_product) return 0;
  // A concatenation of the step whose parts are multiples of F wide is copied by features
  // (emit_assembly): each part at column j must then be where this thread wrote it.
  for (NodeId id = 0; id < g.size(); ++id)
    if (concat_copied_by_features(s, plan, id, F))
      for (NodeId part : g.node(id).args)
        if (!read_at_own_features(part)) return 0;
  for (const passes::FusionGroup& group : s.groups) {
    if (group.phase != Phase::loop) continue;
    auto in_group = [&](NodeId a) {
      return std::find(group.nodes.begin(), group.nodes.end(), a) != group.nodes.end() ||
             std::find(group.recomputed.begin(), group.recomputed.end(), a) != group.recomputed.end();
    };
    for (const std::vector<NodeId>* list : {&group.recomputed, &group.nodes})
      for (NodeId id : *list) {
        const Op op = g.node(id).op;
        if (op == Op::sum || op == Op::mean) return 0;
        for (NodeId a : g.node(id).args)
          if (!in_group(a) && !read_at_own_features(a)) return 0;
      }
  }
  return F;
}

}  // namespace

bool concat_copied_by_features(const passes::ScanSchedule& s, const ScanPlan& scan, NodeId node, int64_t F) {
  const Node& n = s.graph.node(node);
  if (F <= 0 || s.phase[node] != Phase::loop || n.op != Op::concat || n.type.shared) return false;
  for (NodeId part : n.args)
    if (scan.width[part] % F != 0) return false;
  return true;
}

Location sequence(Workspace& ws, int64_t steps, int64_t batch, int64_t width) {
  const int64_t row = padded_row_stride(width);
  return {kWorkspace, ws.allocate(steps * batch * row), row, batch * row, 0};
}

Location step_block(Workspace& ws, int64_t batch, int64_t width) {
  const int64_t row = padded_row_stride(width);
  return {kWorkspace, ws.allocate(batch * row), row, 0, 0};
}

namespace {

// The value of a folded node (a constant expression of sizes).
double fold(const ir::Graph& g, NodeId id, const std::vector<double>& values, const std::vector<int64_t>& width) {
  const Node& n = g.node(id);
  auto a = [&](size_t i) { return values[n.args[i]]; };
  switch (n.op) {
    case Op::constant: return n.value;
    case Op::neg: return -a(0);
    case Op::add: return a(0) + a(1);
    case Op::sub: return a(0) - a(1);
    case Op::mul: return a(0) * a(1);
    case Op::div: return a(0) / a(1);
    case Op::sigmoid: return 1 / (1 + std::exp(-a(0)));
    case Op::tanh: return std::tanh(a(0));
    case Op::relu: return a(0) > 0 ? a(0) : 0;
    case Op::step: return a(0) > 0 ? 1 : 0;
    case Op::exp: return std::exp(a(0));
    case Op::log: return std::log(a(0));
    case Op::sqrt: return std::sqrt(a(0));
    case Op::rsqrt: return 1 / std::sqrt(a(0));
    case Op::stop_gradient: case Op::slice: case Op::broadcast: case Op::batch_broadcast: case Op::mean: return a(0);
    case Op::sum: return a(0) * static_cast<double>(width[n.args[0]]);
    default: internal_error("cannot fold op ", ir::op_name(n.op));
  }
}

}  // namespace

ScanPlan plan_scan(const passes::ScanSchedule& s, int64_t layer, bool reverse, const ir::Bindings& bindings,
                   int64_t steps, int64_t batch, const ScanBuffers& buffers, Workspace& ws) {
  const ir::Graph& g = s.graph;
  const size_t n = g.size();
  ScanPlan plan;
  plan.layer = layer;
  plan.reverse = reverse;
  plan.bindings = bindings;
  plan.location.assign(n, {});
  plan.folded_value.assign(n, 0);
  plan.width.assign(n, 0);
  plan.cols.assign(n, 0);
  plan.also_at.assign(n, {});
  std::vector<std::vector<NodeId>> users(n);
  for (NodeId id = 0; id < n; ++id) {
    const ir::Type& t = g.type(id);
    plan.width[id] = t.rows.bind(bindings);
    plan.cols[id] = t.is_matrix() ? t.cols.bind(bindings) : 0;
    for (NodeId a : g.node(id).args) users[a].push_back(id);
    if (s.folded[id]) plan.folded_value[id] = fold(g, id, plan.folded_value, plan.width);
  }
  // Leaves.
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (ir::op_family(node.op) == ir::OpFamily::Leaf && node.op != Op::constant) plan.location[id] = buffers.leaf(node);
  }
  // Results: the first result of a computed value is where it lives; further results are copies.
  auto is_view = [&](NodeId id) { return g.node(id).op == Op::slice; };
  auto computed = [&](NodeId id) {
    return ir::op_family(g.node(id).op) != ir::OpFamily::Leaf && !s.folded[id] && !is_view(id);
  };
  std::vector<std::pair<NodeId, Location>> pending_copies;
  for (const ir::Output& o : g.outputs()) {
    const ResultTarget target = buffers.result(o);
    const Location to = target.where;
    if (target.add) {  // added into a buffer another unit writes first (a bidirectional layer's dx)
      plan.copies.push_back({o.node, to, true});
      continue;
    }
    // A parameter's gradient computed inside the loop is one step's share: it is added up.
    if (o.role == ir::Role::grad && g.type(o.node).shared && s.phase[o.node] == Phase::loop && !s.accumulate[o.node]) {
      plan.copies.push_back({o.node, to, true});
      plan.zero_first.push_back({to, plan.cols[o.node] ? plan.width[o.node] : 1,
                                 plan.cols[o.node] ? plan.cols[o.node] : plan.width[o.node]});
      continue;
    }
    if (computed(o.node) && !plan.location[o.node].valid()) plan.location[o.node] = to;
    else pending_copies.push_back({o.node, to});
  }
  auto kept = [&](NodeId id) { return buffers.keep_every_step && buffers.keep_every_step(id); };
  // A loop value read after the loop, directly or through views of it: kept for every step.
  std::function<bool(NodeId)> read_after_loop = [&](NodeId v) {
    for (NodeId u : users[v])
      if (s.phase[u] == Phase::post || (is_view(u) && read_after_loop(u))) return true;
    return false;
  };
  // Values computed only to be concatenated are placed inside the concatenation (below). A value
  // its fused loop computes may be concatenated more than once (each concatenation of its phase
  // taking it once) and read by other loops too: it lives in the first concatenation's slot and
  // the loop also stores it into the others' (also_at), so no assembly copies it.
  auto in_fused_loop = [&](NodeId id) {
    for (const passes::FusionGroup& group : s.groups)
      if (std::find(group.nodes.begin(), group.nodes.end(), id) != group.nodes.end())
        return !group.shared && group.cols.is_zero() && g.node(id).op != Op::sum && g.node(id).op != Op::mean;
    return false;
  };
  auto concat_of = [&](NodeId id, NodeId user) {
    return g.node(user).op == Op::concat && s.phase[user] == s.phase[id] &&
           std::count(g.node(user).args.begin(), g.node(user).args.end(), id) == 1;
  };
  auto placed_in_concat = [&](NodeId id) {
    if (users[id].size() == 1) return concat_of(id, users[id][0]);
    if (!in_fused_loop(id) || kept(id)) return false;
    for (const ir::Output& o : g.outputs())
      if (o.node == id) return false;
    // A concatenation read only inside the time loop lives for one step: a value read after the
    // loop may live in concatenations that are kept for every step only.
    const bool kept_for_every_step = s.phase[id] != Phase::loop || !read_after_loop(id);
    int concats = 0;
    for (NodeId u : users[id]) {
      if (concat_of(id, u)) {
        ++concats;
        if (!kept_for_every_step && !read_after_loop(u)) return false;
      } else if (g.node(u).op == Op::concat || g.node(u).op == Op::slice) {
        return false;
      }
    }
    return concats > 0;
  };
  for (NodeId id = 0; id < n; ++id) {
    if (!computed(id) || !(s.materialized[id] || kept(id)) || plan.location[id].valid() || placed_in_concat(id))
      continue;
    const int64_t w = plan.width[id];
    const Phase phase = g.type(id).shared ? Phase::shared : s.phase[id];  // shared values have one row
    switch (phase) {
      case Phase::shared:
        plan.location[id] = {kWorkspace, ws.allocate(w * std::max<int64_t>(1, plan.cols[id])),
                             plan.cols[id] ? plan.cols[id] : w, 0, 0};
        break;
      case Phase::pre:
      case Phase::post:
        plan.location[id] = sequence(ws, steps, batch, w);
        break;
      case Phase::loop: {
        // Read after the loop, directly or through views of it: then it is kept for every step.
        bool read_later = read_after_loop(id) || kept(id);
        plan.location[id] = read_later ? sequence(ws, steps, batch, w) : step_block(ws, batch, w);
        break;
      }
    }
  }
  // Outermost first (a user comes after its operands), so a concatenation placed inside another
  // has its place before its own parts are placed inside it.
  for (NodeId id = n; id-- > 0;) {
    const Node& node = g.node(id);
    if (node.op != Op::concat || !plan.location[id].valid()) continue;
    int64_t offset = 0;
    for (NodeId part : node.args) {
      if (computed(part) && placed_in_concat(part)) {
        if (!plan.location[part].valid()) plan.location[part] = plan.location[id].shifted(offset);
        else plan.also_at[part].push_back(plan.location[id].shifted(offset));
      }
      offset += plan.width[part];
    }
  }
  for (NodeId id = 0; id < n; ++id)
    if (is_view(id) && plan.location[g.node(id).args[0]].valid())
      plan.location[id] = plan.location[g.node(id).args[0]].shifted(g.node(id).offset.bind(bindings));
  // Products of a one-hot operand given as indices: gathers and scatter-adds (IndexProduct).
  auto is_index = [&](NodeId v) {
    return !buffers.index_input.empty() && g.node(v).op == Op::input && g.node(v).name == buffers.index_input;
  };
  // Matrix products as generated GEMMs.
  for (NodeId id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (node.op != Op::matmul && node.op != Op::matmul_t && node.op != Op::outer) continue;
    if (is_index(node.args[1]) || (node.op == Op::outer && is_index(node.args[0]))) {
      const bool index_first = node.op == Op::outer && is_index(node.args[0]);
      IndexProduct product{id, node.args[index_first ? 0 : 1], node.args[index_first ? 1 : 0], {}, 0, 0};
      product.entries = plan.width[product.index];
      product.width = node.op == Op::outer ? plan.width[product.other] : plan.width[id];
      if (node.op != Op::matmul_t) {
        const int64_t stride = aligned(product.width);
        product.table = {kWorkspace, ws.allocate(product.entries * stride), stride, 0, 0};
      }
      plan.index_products.push_back(product);
      continue;
    }
    const bool loop = s.phase[id] == Phase::loop;
    const int64_t rows = loop ? batch : steps * batch;  // rows of the phase
    ProductPlan product{id, {}, {}};
    GemmSpec& spec = product.spec;
    const Location& out = plan.location[id];
    if (node.op == Op::outer) {
      // C[i][j] = sum_r a[r][i] c[r][j]: op(A) = a^T, op(B) = c, K = the rows summed.
      const NodeId a = node.args[0], c = node.args[1];
      spec.m = plan.width[a];
      spec.n = plan.width[c];
      spec.k = g.type(a).shared ? 1 : rows;
      spec.a_row_stride = 1;
      spec.a_col_stride = plan.location[a].row_stride;
      spec.b_row_stride = plan.location[c].row_stride;
      spec.b_col_stride = 1;
      spec.accumulate = s.accumulate[id];
    } else {
      // C[r][i] = sum_k W[i][k] v[r][k] (matmul) or sum_k W[k][i] v[r][k] (matmul_t): op(A) = v.
      const NodeId w = node.args[0], v = node.args[1];
      const int64_t ldw = plan.location[w].row_stride;
      spec.m = g.type(v).shared ? 1 : rows;
      spec.n = plan.width[id];
      spec.k = plan.width[v];
      spec.a_row_stride = plan.location[v].row_stride;
      spec.a_col_stride = 1;
      spec.b_row_stride = node.op == Op::matmul ? 1 : ldw;
      spec.b_col_stride = node.op == Op::matmul ? ldw : 1;
      if ((loop || spec.m < gemm_row_granule(spec)) && g.node(w).op == Op::param) {
        spec.b = GemmB::prepacked;
        product.packed = {kWorkspace, ws.allocate(gemm_packed_floats(spec)), 0, 0, 0};
      }
    }
    spec.c_row_stride = out.row_stride;
    product.split_rows = product_splits_rows(spec, loop);
    if (loop && product.split_rows) plan.row_granule = std::max(plan.row_granule, gemm_row_granule(spec));
    plan.products.push_back(product);
  }
  plan.feature_split = loop_feature_split(s, plan, batch);
  // Loop products that add up over the steps start from zero.
  for (NodeId id = 0; id < n; ++id)
    if (s.accumulate[id])
      plan.zero_first.push_back({plan.location[id], plan.cols[id] ? plan.width[id] : 1,
                                 plan.cols[id] ? plan.cols[id] : plan.width[id]});
  for (const auto& [node, to] : pending_copies) {
    const Location& from = plan.location[node];
    bool same = from.valid() && from.slot == to.slot && from.offset == to.offset && from.row_stride == to.row_stride &&
                from.step_stride == to.step_stride && from.time_offset == to.time_offset;
    if (!same) plan.copies.push_back({node, to, false});
  }
  return plan;
}


}  // namespace cellforge::llvm_backend
