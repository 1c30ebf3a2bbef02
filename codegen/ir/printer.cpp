// Prints a step graph in the text form described in text.hpp.
#include <cstdio>
#include <set>
#include <sstream>

#include "codegen/ir/text.hpp"

namespace cellforge::ir {

std::vector<NodeId> live_nodes(const Graph& graph) {
  std::vector<bool> live(graph.size(), false);
  for (const Output& o : graph.outputs()) live[o.node] = true;
  for (NodeId id = static_cast<NodeId>(graph.size()); id-- > 0;) {
    const Node& n = graph.node(id);
    if (op_family(n.op) == OpFamily::Leaf && n.op != Op::constant) live[id] = true;
    if (!live[id]) continue;
    for (NodeId a : n.args) live[a] = true;
  }
  std::vector<NodeId> out;
  for (NodeId id = 0; id < graph.size(); ++id)
    if (live[id]) out.push_back(id);
  return out;
}

std::vector<std::string> printed_names(const Graph& graph) {
  std::vector<std::string> names(graph.size());
  std::set<std::string> taken;
  std::vector<NodeId> live = live_nodes(graph);
  // Leaves keep their names; they are unique by construction.
  for (NodeId id : live) {
    const Node& n = graph.node(id);
    if (op_family(n.op) == OpFamily::Leaf && n.op != Op::constant) {
      names[id] = n.name;
      taken.insert(n.name);
    }
  }
  int counter = 0;
  for (NodeId id : live) {
    if (!names[id].empty()) continue;
    std::string name = graph.label(id);
    if (!name.empty() && taken.count(name)) {
      int k = 1;
      while (taken.count(name + "." + std::to_string(k))) ++k;
      name += "." + std::to_string(k);
    }
    if (name.empty()) {
      do name = std::to_string(counter++);
      while (taken.count(name));
    }
    names[id] = name;
    taken.insert(name);
  }
  return names;
}

namespace {

std::string format_number(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  // Prefer the shortest text that reads back to the same double.
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[64];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buffer;
}

}  // namespace

std::string print(const Graph& graph, const NodeAnnotator& annotate) {
  std::vector<std::string> names = printed_names(graph);
  std::ostringstream out;
  out << "cell " << graph.name() << " {\n";
  auto ref = [&](NodeId id) { return "%" + names[id]; };
  for (NodeId id : live_nodes(graph)) {
    const Node& n = graph.node(id);
    out << "  ";
    if (op_family(n.op) == OpFamily::Leaf && n.op != Op::constant) {
      out << op_name(n.op) << " " << ref(id);
      if (n.op == Op::seed) out << " for " << role_name(n.seed_role) << " " << n.seed_of;
    } else {
      out << ref(id) << " = " << op_name(n.op);
      if (n.op == Op::constant) out << " " << format_number(n.value);
      for (size_t i = 0; i < n.args.size(); ++i) out << (i ? ", " : " ") << ref(n.args[i]);
      if (n.op == Op::slice || n.op == Op::pad) out << ", " << n.offset.str();
    }
    out << " : " << n.type.str();
    if (annotate) {
      std::string note = annotate(id);
      if (!note.empty()) out << "  # " << note;
    }
    out << "\n";
  }
  for (const Output& o : graph.outputs()) out << "  " << role_name(o.role) << " " << o.name << " = " << ref(o.node) << "\n";
  out << "}\n";
  return out.str();
}

}  // namespace cellforge::ir
