// sink_slices: moves slices toward memory.
//
// A cell that computes its gates as one vector and splits it (LSTM: [i f g o] = W x + b + U h)
// reads as z = add(add(matmul, b), matmul); slice(z, H, H); ... Computed as written, that is a loop
// of width 4H that writes z, then four loops of width H that read its slices. Rewriting
// slice(a + b) into slice(a) + slice(b) (and likewise through every elementwise op) leaves the
// slices on the matmul results and parameters, which live in memory anyway: a slice of them is an
// offset, and all the gate arithmetic becomes one fused loop of width H.
//
// A slice sinks into a value when every user of that value is a slice, so nothing is computed
// twice — or when the value is one arithmetic op on values that are in memory anyway (matmul
// results, leaves, per-row scalars): then the sliced use recomputes that op, and the value need not
// be stored for it (a layer norm's centred W x - mean, read by the gate loop through slices and by
// the variance whole). Slices of slices merge, a slice of a concat picks its part, a slice of a
// broadcast or a constant shrinks it. The pass repeats until no slice moves.
#include "codegen/ir/rewrite.hpp"
#include "codegen/passes/passes.hpp"

namespace cellforge::passes {

using ir::Dim;
using ir::Node;
using ir::NodeId;
using ir::Op;

namespace {

// For every node: is it used, and only by slices?
std::vector<bool> only_sliced(const ir::Graph& g) {
  std::vector<int> users(g.size(), 0), slice_users(g.size(), 0);
  for (NodeId id = 0; id < g.size(); ++id)
    for (NodeId a : g.node(id).args) {
      ++users[a];
      if (g.node(id).op == Op::slice) ++slice_users[a];
    }
  for (const ir::Output& o : g.outputs()) ++users[o.node];
  std::vector<bool> out(g.size());
  for (NodeId id = 0; id < g.size(); ++id) out[id] = users[id] > 0 && users[id] == slice_users[id];
  return out;
}

// Whether `id` is one add/sub/mul/div/neg of matmul results, leaves, shared values and per-row
// scalars: recomputing it where it is sliced costs one op and reads only what memory holds anyway.
bool cheap_to_recompute(const ir::Graph& g, NodeId id) {
  const Node& n = g.node(id);
  if (!ir::is_arithmetic(n.op)) return false;
  for (NodeId a : n.args) {
    const Node& an = g.node(a);
    const ir::Type& t = g.type(a);
    const bool in_memory = ir::op_family(an.op) == ir::OpFamily::Leaf || an.op == Op::matmul || t.shared || t.is_scalar();
    if (!in_memory) return false;
  }
  return true;
}

// One round: every slice whose operand is only sliced (or cheap to recompute) moves one level down.
ir::Graph sink_once(const ir::Graph& source, bool* changed) {
  std::vector<bool> sinkable = only_sliced(source);
  std::vector<NodeId> old_of_new;  // not needed: we test the source node
  return ir::rewrite(source, [&](ir::RewriteStep& s) -> NodeId {
    ir::Graph& g = s.out;
    const Node& n = s.node;
    if (n.op != Op::slice) return g.make(n);
    const NodeId old_operand = source.node(s.old_id).args[0];
    const Node a = g.node(n.args[0]);
    const Dim& offset = n.offset;
    const Dim& length = n.type.rows;
    auto slice_of = [&](NodeId v) {
      // Operands of length 1 are broadcast: any slice of them is themselves.
      return g.type(v).rows.is_constant(1) ? v : g.slice(v, offset, length);
    };
    if (a.op == Op::slice) {
      *changed = true;
      return g.slice(a.args[0], a.offset + offset, length);
    }
    if (a.op == Op::concat) {
      Dim start;
      for (NodeId part : a.args) {
        Dim end = start + g.type(part).rows;
        // Only a part of the slice's own kind replaces it: a shared part (a constant filling a gap)
        // inside a per-row concatenation would change the slice's type.
        if (g.type(part).shared == n.type.shared && (offset - start).is_nonnegative() &&
            (end - offset - length).is_nonnegative()) {
          *changed = true;
          return (offset == start && length == g.type(part).rows) ? part : g.slice(part, offset - start, length);
        }
        start = end;
      }
      return g.make(n);
    }
    if (a.op == Op::constant) {
      *changed = true;
      return g.constant(a.value, length);
    }
    if (a.op == Op::broadcast) {
      *changed = true;
      return g.broadcast(a.args[0], length);
    }
    if (!ir::is_elementwise(a.op) || !(sinkable[old_operand] || cheap_to_recompute(source, old_operand)))
      return g.make(n);
    *changed = true;
    if (a.args.size() == 1) return g.unary(a.op, slice_of(a.args[0]));
    return g.binary(a.op, slice_of(a.args[0]), slice_of(a.args[1]));
  });
}

}  // namespace

ir::Graph sink_slices(const ir::Graph& graph) {
  ir::Graph g = ir::prune(graph);
  for (int round = 0; round < 64; ++round) {
    bool changed = false;
    ir::Graph next = sink_once(g, &changed);
    if (!changed) break;
    g = std::move(next);
  }
  return g;
}

}  // namespace cellforge::passes
