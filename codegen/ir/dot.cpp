// DOT writer; see dot.hpp.
#include "codegen/ir/dot.hpp"

#include <algorithm>
#include <sstream>

#include "codegen/ir/text.hpp"

namespace cellforge::ir {

std::vector<bool> state_path(const Graph& graph, const std::string& state) {
  std::vector<bool> from(graph.size(), false), to(graph.size(), false), path(graph.size(), false);
  int64_t start = graph.find_leaf(Op::state, state);
  const Output* end = graph.find_output(Role::next, state);
  for (NodeId s : graph.leaves(Op::seed))
    if (graph.node(s).seed_role == Role::next && graph.node(s).seed_of == state) {
      start = s;
      end = graph.find_output(Role::grad, state);
    }
  if (start < 0 || !end) return path;
  from[static_cast<NodeId>(start)] = true;
  for (NodeId id = 0; id < graph.size(); ++id)
    for (NodeId a : graph.node(id).args) from[id] = from[id] || from[a];
  to[end->node] = true;
  for (NodeId id = static_cast<NodeId>(graph.size()); id-- > 0;)
    if (to[id])
      for (NodeId a : graph.node(id).args) to[a] = true;
  for (NodeId id = 0; id < graph.size(); ++id) path[id] = from[id] && to[id];
  return path;
}

std::string to_dot(const Graph& graph) {
  static const char* kStateColours[] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd"};
  std::vector<std::string> names = printed_names(graph);
  std::vector<NodeId> live = live_nodes(graph);
  // A node on the paths of several states takes the colour of the state with the shortest path:
  // the LSTM's c_next lies on h's long path too, but it belongs to c's short highway.
  std::vector<int> state_of(graph.size(), -1);
  std::vector<size_t> owner_length(graph.size(), 0);
  std::vector<NodeId> states = graph.leaves(Op::state);
  for (size_t k = 0; k < states.size(); ++k) {
    std::vector<bool> path = state_path(graph, graph.node(states[k]).name);
    size_t length = static_cast<size_t>(std::count(path.begin(), path.end(), true));
    for (NodeId id = 0; id < graph.size(); ++id)
      if (path[id] && (state_of[id] < 0 || length < owner_length[id])) {
        state_of[id] = static_cast<int>(k % 4);
        owner_length[id] = length;
      }
  }
  std::ostringstream out;
  out << "digraph \"" << graph.name() << "\" {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=11];\n";
  for (NodeId id : live) {
    const Node& n = graph.node(id);
    std::string label = "%" + names[id] + "\\n" + op_name(n.op) + " " + n.type.str();
    if (n.op == Op::constant) {
      std::ostringstream v;
      v << n.value;
      label = v.str() + "\\n" + n.type.str();
    }
    const char* fill = "white";
    const char* shape = "ellipse";
    switch (n.op) {
      case Op::input: fill = "#c6dbef"; shape = "box"; break;
      case Op::state: fill = "#c7e9c0"; shape = "box"; break;
      case Op::param: fill = "#d9d9d9"; shape = "box"; break;
      case Op::seed: fill = "#fdd0a2"; shape = "box"; break;
      case Op::saved: fill = "#efedf5"; shape = "box"; break;
      case Op::constant: shape = "plaintext"; break;
      default: break;
    }
    out << "  n" << id << " [label=\"" << label << "\", shape=" << shape << ", style=filled, fillcolor=\"" << fill << "\"";
    if (state_of[id] >= 0) out << ", color=\"" << kStateColours[state_of[id]] << "\", penwidth=2.5";
    out << "];\n";
  }
  for (NodeId id : live)
    for (NodeId a : graph.node(id).args) {
      out << "  n" << a << " -> n" << id;
      if (state_of[id] >= 0 && state_of[a] == state_of[id])
        out << " [color=\"" << kStateColours[state_of[id]] << "\", penwidth=3]";
      out << ";\n";
    }
  int k = 0;
  for (const Output& o : graph.outputs()) {
    out << "  r" << k << " [label=\"" << role_name(o.role) << " " << o.name << "\", shape=doubleoctagon];\n";
    out << "  n" << o.node << " -> r" << k << ";\n";
    ++k;
  }
  out << "}\n";
  return out.str();
}

}  // namespace cellforge::ir
