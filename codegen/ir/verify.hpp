// Checks that a graph is well formed. The builders already enforce the type rules node by node;
// the verifier checks what only the whole graph can tell: operand order, results, and the rules a
// recurrent cell must follow.
#pragma once

#include "codegen/ir/graph.hpp"

namespace cellforge::ir {

/// Every node's operands precede it, every type is what the op's type rule gives, every result
/// names an existing node. Throws InternalError (a graph cellforge built is broken) with the graph's
/// text.
void verify(const Graph& graph);

/// The rules of a forward step graph, each a UserError naming the cell and the fix: exactly one
/// `next` per state with the state's type, the cell reads every state it updates, exactly one
/// `output`, every parameter and input affects a result, no seeds, saved values or gradients.
void verify_cell(const Graph& cell);

}  // namespace cellforge::ir
