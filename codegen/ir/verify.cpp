// Whole-graph checks; see verify.hpp.
#include "codegen/ir/verify.hpp"

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"

namespace cellforge::ir {

void verify(const Graph& graph) {
  Graph rebuilt(graph.name());
  for (NodeId id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    for (NodeId a : n.args)
      if (a >= id) internal_error("node %", id, " (", op_name(n.op), ") uses %", a, ", which does not precede it");
    NodeId copy;
    try {
      copy = rebuilt.make(n);
    } catch (const UserError& e) {
      internal_error("node %", id, " (", op_name(n.op), ") is ill-formed: ", e.what(), "\n", print(graph));
    }
    if (copy != id)
      internal_error("node %", id, " (", op_name(n.op), ") duplicates node %", copy, "; hash-consing is broken");
    if (!(rebuilt.type(copy) == n.type))
      internal_error("node %", id, " (", op_name(n.op), ") has type ", n.type.str(), " but its op gives ",
                     rebuilt.type(copy).str());
  }
  for (const Output& o : graph.outputs())
    if (o.node >= graph.size()) internal_error("result '", o.name, "' refers to missing node %", o.node);
}

void verify_cell(const Graph& cell) {
  verify(cell);
  const std::string& name = cell.name();
  for (Op forbidden : {Op::seed, Op::saved})
    if (!cell.leaves(forbidden).empty())
      user_error("cell '", name, "' contains a ", op_name(forbidden), " leaf; only derived graphs have those");
  int outputs = 0;
  for (const Output& o : cell.outputs()) {
    if (o.role == Role::output) {
      ++outputs;
      if (cell.type(o.node).shared)
        user_error("cell '", name, "': output '", o.name, "' is the same for every row of the batch; "
                   "an output must depend on the row's input or state");
    } else if (o.role == Role::next) {
      int64_t s = cell.find_leaf(Op::state, o.name);
      if (s < 0) user_error("cell '", name, "' gives a next value for '", o.name, "', which is not one of its states");
      const Type& in = cell.type(static_cast<NodeId>(s));
      const Type& out = cell.type(o.node);
      if (!(in.rows == out.rows) || !(in.cols == out.cols))
        user_error("cell '", name, "': state '", o.name, "' is ", cell.type(static_cast<NodeId>(s)).str(),
                   " on input but its next value is ", cell.type(o.node).str(),
                   "; a cell must return each state with the shape it received");
      if (cell.type(o.node).shared)
        user_error("cell '", name, "': the next value of state '", o.name, "' is the same for every row; "
                   "it must depend on the row's input or state");
    } else {
      user_error("cell '", name, "' has a result of role '", role_name(o.role), "'; a cell has only next and output");
    }
  }
  if (outputs != 1) user_error("cell '", name, "' has ", outputs, " outputs; a cell has exactly one output");
  std::vector<bool> used(cell.size(), false);
  for (const Output& o : cell.outputs()) used[o.node] = true;
  for (NodeId id = static_cast<NodeId>(cell.size()); id-- > 0;)
    if (used[id])
      for (NodeId a : cell.node(id).args) used[a] = true;
  for (NodeId s : cell.leaves(Op::state)) {
    const std::string& state = cell.node(s).name;
    if (!cell.find_output(Role::next, state)) {
      if (!used[s])
        user_error("cell '", name, "' declares state '", state, "' but neither reads it nor gives its next value; "
                   "remove it, or read it and add next(", state, ", ...)");
      user_error("cell '", name, "' reads state '", state, "' but never gives its next value; add next(", state, ", ...)");
    }
    if (!used[s] || cell.find_output(Role::next, state)->node == s) {
      bool read = false;
      for (NodeId id = 0; id < cell.size(); ++id)
        for (NodeId a : cell.node(id).args) read = read || (a == s && used[id]);
      if (!read)
        user_error("cell '", name, "' never reads its state '", state,
                   "'; it is not recurrent. Read the state, or drop it and use a feed-forward layer");
    }
  }
  for (Op kind : {Op::param, Op::input})
    for (NodeId leaf : cell.leaves(kind))
      if (!used[leaf])
        user_error(op_name(kind), " '", cell.node(leaf).name, "' does not affect any result of cell '", name,
                   "'; remove it or use it");
}

}  // namespace cellforge::ir
