// The text form of a step graph: a printer and a parser that read each other's output, so graphs
// can be written to files, checked by FileCheck and read back (print -> parse -> print is the
// identity). Example:
//
//   cell rnn {
//     input %x : [X]
//     state %h : [H]
//     param %W : [H, X]
//     param %U : [H, H]
//     param %b : [H]
//     %0 = matmul %W, %x : [H]
//     %1 = matmul %U, %h : [H]
//     %2 = add %0, %1 : [H]
//     %3 = add %2, %b : [H]
//     %h_next = tanh %3 : [H]
//     next h = %h_next
//     output y = %h_next
//   }
//
// Leaves come first, in declaration order; then every value the results need, operands before
// users; then the results. Values are named after their labels where they have one and numbered
// otherwise. `#` starts a comment.
#pragma once

#include <functional>
#include <string>

#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

/// Returns a comment for a node (printed after it as `# ...`), or "" for none.
using NodeAnnotator = std::function<std::string(NodeId)>;

/// The text form of `graph`.
std::string print(const Graph& graph, const NodeAnnotator& annotate = nullptr);

/// Parses the text form; throws UserError naming the line and what is wrong.
Graph parse(const std::string& text);

/// The printed names of the nodes (as `print` chooses them), indexed by NodeId; "" for nodes the
/// printout leaves out because no result needs them.
std::vector<std::string> printed_names(const Graph& graph);

/// The ids of the nodes that some output needs, plus every non-constant leaf, in id order.
std::vector<NodeId> live_nodes(const Graph& graph);

}  // namespace cellforge::ir
