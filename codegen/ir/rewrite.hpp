// Rebuilding a graph node by node: the one mechanism behind every pass that changes a graph.
//
// rewrite() walks the nodes of `source` in order and asks `visit` for each node's replacement in the
// new graph, given the node with its operands already mapped into the new graph. The default
// (`copy_node`) rebuilds the node unchanged; a pass overrides only the nodes it cares about.
// Results, labels and leaf order carry over; nodes no result needs are dropped.
#pragma once

#include <functional>
#include <vector>

#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

/// What a visitor sees: the node being rebuilt, with `node.args` already mapped into `out`.
struct RewriteStep {
  Graph& out;
  NodeId old_id;
  Node node;  // operands are ids in `out`
};

using RewriteVisitor = std::function<NodeId(RewriteStep&)>;

/// Rebuilds `step.node` as it is.
NodeId copy_node(RewriteStep& step);

/// The rewritten graph; `mapping` (if given) receives old id -> new id for live nodes.
Graph rewrite(const Graph& source, const RewriteVisitor& visit, std::vector<NodeId>* mapping = nullptr);

/// Every node (with its label) of `source` and none of its results, for a pass that adds nodes and
/// then adds the results anew; `mapping` receives old id -> new id.
Graph copy_without_results(const Graph& source, std::vector<NodeId>& mapping);

/// A copy with only the nodes the results need (and all leaves, unless `drop_unused_leaves`).
Graph prune(const Graph& source, bool drop_unused_leaves = false);

/// A copy with only the results `keep_result` accepts and the nodes those need; of the leaves
/// they do not need, those `keep_unused_leaf` accepts.
Graph prune(const Graph& source, const std::function<bool(const Output&)>& keep_result,
            const std::function<bool(const Node&)>& keep_unused_leaf);

}  // namespace cellforge::ir
