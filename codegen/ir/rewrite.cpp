// Graph rewriting; see rewrite.hpp.
#include "codegen/ir/rewrite.hpp"

#include "codegen/ir/text.hpp"

namespace cellforge::ir {

NodeId copy_node(RewriteStep& step) { return step.out.make(step.node); }

Graph rewrite(const Graph& source, const RewriteVisitor& visit, std::vector<NodeId>* mapping) {
  Graph out(source.name());
  std::vector<NodeId> map(source.size(), static_cast<NodeId>(-1));
  for (NodeId id : live_nodes(source)) {
    RewriteStep step{out, id, source.node(id)};
    for (NodeId& a : step.node.args) a = map[a];
    map[id] = visit ? visit(step) : copy_node(step);
    if (!source.label(id).empty()) out.set_label(map[id], source.label(id));
  }
  for (const Output& o : source.outputs()) out.add_output(o.role, o.name, map[o.node]);
  if (mapping) *mapping = map;
  // The rewrite may have left nodes behind that no result reaches (replaced operands).
  if (live_nodes(out).size() == out.size()) return out;
  return prune(out);
}

Graph prune(const Graph& source, bool drop_unused_leaves) {
  Graph out(source.name());
  std::vector<NodeId> map(source.size(), static_cast<NodeId>(-1));
  std::vector<bool> used(source.size(), false);
  for (const Output& o : source.outputs()) used[o.node] = true;
  for (NodeId id = static_cast<NodeId>(source.size()); id-- > 0;)
    if (used[id])
      for (NodeId a : source.node(id).args) used[a] = true;
  for (NodeId id : live_nodes(source)) {
    if (drop_unused_leaves && !used[id]) continue;
    Node n = source.node(id);
    for (NodeId& a : n.args) a = map[a];
    map[id] = out.make(n);
    if (!source.label(id).empty()) out.set_label(map[id], source.label(id));
  }
  for (const Output& o : source.outputs()) out.add_output(o.role, o.name, map[o.node]);
  return out;
}

}  // namespace cellforge::ir
