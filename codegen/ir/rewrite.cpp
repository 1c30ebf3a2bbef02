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

Graph copy_without_results(const Graph& source, std::vector<NodeId>& mapping) {
  Graph out(source.name());
  mapping.assign(source.size(), 0);
  for (NodeId id = 0; id < source.size(); ++id) {
    Node n = source.node(id);
    for (NodeId& a : n.args) a = mapping[a];
    mapping[id] = out.make(n);
    if (!source.label(id).empty()) out.set_label(mapping[id], source.label(id));
  }
  return out;
}

Graph prune(const Graph& source, bool drop_unused_leaves) {
  return prune(source, [](const Output&) { return true; }, [&](const Node&) { return !drop_unused_leaves; });
}

Graph prune(const Graph& source, const std::function<bool(const Output&)>& keep_result,
            const std::function<bool(const Node&)>& keep_unused_leaf) {
  Graph out(source.name());
  std::vector<NodeId> map(source.size(), static_cast<NodeId>(-1));
  std::vector<bool> used(source.size(), false);
  for (const Output& o : source.outputs())
    if (keep_result(o)) used[o.node] = true;
  for (NodeId id = static_cast<NodeId>(source.size()); id-- > 0;)
    if (used[id])
      for (NodeId a : source.node(id).args) used[a] = true;
  // live_nodes(): every leaf, and the nodes some result needs.
  for (NodeId id : live_nodes(source)) {
    if (!used[id] && (op_family(source.node(id).op) != OpFamily::Leaf || !keep_unused_leaf(source.node(id)))) continue;
    Node n = source.node(id);
    for (NodeId& a : n.args) a = map[a];
    map[id] = out.make(n);
    if (!source.label(id).empty()) out.set_label(map[id], source.label(id));
  }
  for (const Output& o : source.outputs())
    if (keep_result(o)) out.add_output(o.role, o.name, map[o.node]);
  return out;
}

}  // namespace cellforge::ir
