// The step graph: op table, type rules of the validating builders, hash-consing. See graph.hpp.
#include "codegen/ir/graph.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "codegen/ir/error.hpp"

namespace cellforge::ir {

namespace {

struct OpInfo {
  const char* name;
  OpFamily family;
  int arity;
  const char* meaning;
};

constexpr OpInfo kOps[] = {
#define CF_OP(name, family, arity, meaning) {#name, OpFamily::family, arity, meaning},
#include "codegen/ir/ops.def"
#undef CF_OP
};

// FNV-1a, so hashes are the same in every process (they key the on-disk code cache).
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* data, size_t n) {
    auto p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void str(const std::string& s) {
    uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
  template <class T>
  void pod(const T& v) {
    bytes(&v, sizeof v);
  }
};

void hash_dim(Fnv& f, const Dim& d) { f.str(d.str()); }

void hash_into(Fnv& f, const Node& n) {
  f.pod(static_cast<uint8_t>(n.op));
  hash_dim(f, n.type.rows);
  hash_dim(f, n.type.cols);
  f.pod(n.type.shared);
  uint64_t count = n.args.size();
  f.pod(count);
  for (NodeId a : n.args) f.pod(a);
  uint64_t bits;
  std::memcpy(&bits, &n.value, sizeof bits);
  f.pod(bits);
  hash_dim(f, n.offset);
  f.str(n.name);
  f.pod(static_cast<uint8_t>(n.seed_role));
  f.str(n.seed_of);
}

}  // namespace

bool is_valid_name(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

namespace {
void check_name(const std::string& name, const char* what) {
  if (!is_valid_name(name))
    user_error(what, " '", name, "' is not a valid name; use letters, digits, '_' and '.', starting with a letter or '_'");
}
// "an input", "a state", ...
std::string leaf_phrase(Op op) {
  switch (op) {
    case Op::input: return "an input";
    case Op::param: return "a parameter";
    case Op::saved: return "a saved value";
    default: return std::string("a ") + op_name(op);
  }
}
}  // namespace

Graph::Graph(std::string name) : name_(std::move(name)) { check_name(name_, "the cell name"); }

void Graph::set_name(std::string name) {
  check_name(name, "the cell name");
  name_ = std::move(name);
}

const char* op_name(Op op) { return kOps[static_cast<int>(op)].name; }
OpFamily op_family(Op op) { return kOps[static_cast<int>(op)].family; }
int op_arity(Op op) { return kOps[static_cast<int>(op)].arity; }
const char* op_meaning(Op op) { return kOps[static_cast<int>(op)].meaning; }

bool op_from_name(const std::string& name, Op* op) {
  for (int i = 0; i < kNumOps; ++i) {
    if (name == kOps[i].name) {
      *op = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

bool is_elementwise(Op op) {
  return op_family(op) == OpFamily::Unary || op_family(op) == OpFamily::Binary;
}

bool is_arithmetic(Op op) { return op == Op::add || op == Op::sub || op == Op::mul || op == Op::div || op == Op::neg; }

std::string Type::str() const {
  if (is_matrix()) return "[" + rows.str() + ", " + cols.str() + "]";
  return "[" + rows.str() + "]";
}

const char* role_name(Role role) {
  switch (role) {
    case Role::next: return "next";
    case Role::output: return "output";
    case Role::grad: return "grad";
    case Role::save: return "save";
  }
  return "?";
}

size_t hash_node(const Node& node) {
  Fnv f;
  hash_into(f, node);
  return static_cast<size_t>(f.h);
}

bool same_node(const Node& a, const Node& b) {
  uint64_t va, vb;
  std::memcpy(&va, &a.value, sizeof va);
  std::memcpy(&vb, &b.value, sizeof vb);
  return a.op == b.op && a.type == b.type && a.args == b.args && va == vb && a.offset == b.offset &&
         a.name == b.name && a.seed_role == b.seed_role && a.seed_of == b.seed_of;
}

NodeId Graph::intern(Node node) {
  size_t h = hash_node(node);
  auto [begin, end] = index_.equal_range(h);
  for (auto it = begin; it != end; ++it)
    if (same_node(nodes_[it->second], node)) return it->second;
  auto id = static_cast<NodeId>(nodes_.size());
  nodes_.push_back(std::move(node));
  labels_.emplace_back();
  index_.emplace(h, id);
  return id;
}

void Graph::check_value(NodeId id, const char* what) const {
  if (id >= nodes_.size())
    internal_error(what, ": operand %", id, " does not exist in graph '", name_, "' (", nodes_.size(),
                   " nodes)");
}

NodeId Graph::leaf(Node prototype) {
  const std::string& name = prototype.name;
  const Op kind = prototype.op;
  const Type& type = prototype.type;
  if (name.empty()) user_error(leaf_phrase(kind), " needs a name");
  check_name(name, ("the name of " + leaf_phrase(kind)).c_str());
  for (const Node& n : nodes_) {
    if (op_family(n.op) == OpFamily::Leaf && n.op != Op::constant && n.name == name &&
        (n.op != kind || !(n.type == type)))
      user_error("the name '", name, "' is used twice in cell '", name_, "': as ", leaf_phrase(n.op), " ",
                 n.type.str(), " and as ", leaf_phrase(kind), " ", type.str(), "; give them different names");
  }
  if (type.rows.is_zero() || !type.rows.is_nonnegative())
    user_error(op_name(kind), " '", name, "' must have a positive length, got [", type.rows.str(), "]");
  return intern(std::move(prototype));
}

NodeId Graph::leaf(Op kind, const std::string& name, Type type) {
  Node n;
  n.op = kind;
  n.type = std::move(type);
  n.name = name;
  return leaf(std::move(n));
}

NodeId Graph::input(const std::string& name, Dim n) { return leaf(Op::input, name, Type::vector(std::move(n))); }
NodeId Graph::state(const std::string& name, Dim n) { return leaf(Op::state, name, Type::vector(std::move(n))); }
NodeId Graph::saved(const std::string& name, Dim n) { return leaf(Op::saved, name, Type::vector(std::move(n))); }

NodeId Graph::param(const std::string& name, Dim rows, Dim cols) {
  if (cols.is_zero()) return leaf(Op::param, name, Type::shared_vector(std::move(rows)));
  if (!cols.is_nonnegative())
    user_error("param '", name, "' must have positive dimensions, got [", rows.str(), ", ", cols.str(), "]");
  return leaf(Op::param, name, Type::matrix(std::move(rows), std::move(cols)));
}

NodeId Graph::seed(const std::string& name, Dim n, Role role, const std::string& of) {
  if (role != Role::next && role != Role::output)
    internal_error("a seed is the adjoint of a next state or an output, not of a ", role_name(role));
  for (const Node& other : nodes_)
    if (other.op == Op::seed && other.seed_role == role && other.seed_of == of && other.name != name)
      user_error("two seeds for ", role_name(role), " '", of, "': '", other.name, "' and '", name, "'");
  Node node;
  node.op = Op::seed;
  node.type = Type::vector(std::move(n));
  node.name = name;
  node.seed_role = role;
  node.seed_of = of;
  return leaf(std::move(node));
}

NodeId Graph::constant(double value, Dim n) {
  if (n.is_zero() || !n.is_nonnegative()) user_error("a constant needs a positive length, got [", n.str(), "]");
  Node node;
  node.op = Op::constant;
  node.type = Type::shared_vector(std::move(n));
  node.value = value;
  return intern(std::move(node));
}

NodeId Graph::unary(Op op, NodeId a) {
  check_value(a, op_name(op));
  if (op_family(op) != OpFamily::Unary) internal_error(op_name(op), " is not a unary elementwise op");
  const Type& t = type(a);
  if (t.is_matrix() && op != Op::neg)
    user_error(op_name(op), ": operand is the matrix ", t.str(), "; elementwise ops take vectors (a matrix "
               "parameter can only be used as W in a matmul W*v)");
  Node n;
  n.op = op;
  n.type = t;
  n.args = {a};
  return intern(std::move(n));
}

NodeId Graph::binary(Op op, NodeId a, NodeId b) {
  check_value(a, op_name(op));
  check_value(b, op_name(op));
  if (op_family(op) != OpFamily::Binary) internal_error(op_name(op), " is not a binary elementwise op");
  const Type& ta = type(a);
  const Type& tb = type(b);
  Node n;
  n.op = op;
  n.args = {a, b};
  if (ta.is_matrix() || tb.is_matrix()) {
    if (!(ta == tb))
      user_error(op_name(op), ": a matrix ", ta.str(), " and ", tb.is_matrix() ? "a matrix " : "a vector ",
                 tb.str(), " cannot be combined elementwise; matrices combine only with matrices of the same shape");
    n.type = ta;
    return intern(std::move(n));
  }
  Dim rows;
  if (ta.rows == tb.rows) rows = ta.rows;
  else if (ta.rows.is_constant(1)) rows = tb.rows;
  else if (tb.rows.is_constant(1)) rows = ta.rows;
  else
    user_error(op_name(op), ": operand lengths differ: [", ta.rows.str(), "] and [", tb.rows.str(),
               "]; elementwise operands need the same length, or one of length 1");
  n.type = Type{rows, Dim(), ta.shared && tb.shared};
  return intern(std::move(n));
}

NodeId Graph::matmul(NodeId w, NodeId v) {
  check_value(w, "matmul");
  check_value(v, "matmul");
  const Type& tw = type(w);
  const Type& tv = type(v);
  if (!tw.is_matrix()) user_error("matmul: the left operand must be a matrix, got the vector ", tw.str());
  if (tv.is_matrix()) user_error("matmul: the right operand must be a vector, got the matrix ", tv.str());
  if (!(tw.cols == tv.rows))
    user_error("matmul: the matrix ", tw.str(), " has ", tw.cols.str(), " columns but the vector has length [",
               tv.rows.str(), "]; they must be equal");
  Node n;
  n.op = Op::matmul;
  n.type = Type{tw.rows, Dim(), tv.shared};
  n.args = {w, v};
  return intern(std::move(n));
}

NodeId Graph::matmul_t(NodeId w, NodeId v) {
  check_value(w, "matmul_t");
  check_value(v, "matmul_t");
  const Type& tw = type(w);
  const Type& tv = type(v);
  if (!tw.is_matrix()) user_error("matmul_t: the left operand must be a matrix, got the vector ", tw.str());
  if (tv.is_matrix()) user_error("matmul_t: the right operand must be a vector, got the matrix ", tv.str());
  if (!(tw.rows == tv.rows))
    user_error("matmul_t: the matrix ", tw.str(), " has ", tw.rows.str(), " rows but the vector has length [",
               tv.rows.str(), "]; they must be equal");
  Node n;
  n.op = Op::matmul_t;
  n.type = Type{tw.cols, Dim(), tv.shared};
  n.args = {w, v};
  return intern(std::move(n));
}

NodeId Graph::outer(NodeId a, NodeId b) {
  check_value(a, "outer");
  check_value(b, "outer");
  const Type& ta = type(a);
  const Type& tb = type(b);
  if (ta.is_matrix() || tb.is_matrix()) user_error("outer: operands must be vectors, got ", ta.str(), " and ", tb.str());
  if (ta.shared != tb.shared)
    user_error("outer: one operand is shared by the batch and the other is not; both must be per-row or both shared");
  Node n;
  n.op = Op::outer;
  n.type = Type::matrix(ta.rows, tb.rows);
  n.args = {a, b};
  return intern(std::move(n));
}

NodeId Graph::slice(NodeId a, Dim offset, Dim n) {
  check_value(a, "slice");
  const Type& t = type(a);
  if (t.is_matrix()) user_error("slice: operand is the matrix ", t.str(), "; only vectors can be sliced");
  if (n.is_zero() || !n.is_nonnegative()) user_error("slice: the length must be positive, got [", n.str(), "]");
  if (!offset.is_nonnegative()) user_error("slice: the offset must not be negative, got ", offset.str());
  if (!(t.rows - offset - n).is_nonnegative())
    user_error("slice: [", offset.str(), ", ", (offset + n).str(), ") does not lie inside a vector of length [",
               t.rows.str(), "]");
  Node node;
  node.op = Op::slice;
  node.type = Type{n, Dim(), t.shared};
  node.args = {a};
  node.offset = std::move(offset);
  return intern(std::move(node));
}

NodeId Graph::concat(const std::vector<NodeId>& parts) {
  if (parts.empty()) user_error("concat needs at least one operand");
  Node node;
  node.op = Op::concat;
  Dim rows;
  bool shared = true;
  for (NodeId p : parts) {
    check_value(p, "concat");
    const Type& t = type(p);
    if (t.is_matrix()) user_error("concat: operand is the matrix ", t.str(), "; only vectors can be concatenated");
    rows = rows + t.rows;
    shared = shared && t.shared;
  }
  // A per-row concatenation holds its shared parts once per row: say so in the graph, so that every
  // consumer (the lowering places each part inside the concatenation's rows) sees per-row parts.
  node.args = parts;
  if (!shared)
    for (NodeId& p : node.args)
      if (type(p).shared) p = batch_broadcast(p);
  node.type = Type{rows, Dim(), shared};
  return intern(std::move(node));
}

NodeId Graph::pad(NodeId a, Dim offset, Dim n) {
  check_value(a, "pad");
  const Type& t = type(a);
  if (t.is_matrix()) user_error("pad: operand is the matrix ", t.str(), "; only vectors can be padded");
  if (!offset.is_nonnegative() || !(n - offset - t.rows).is_nonnegative())
    user_error("pad: a vector of length [", t.rows.str(), "] at offset ", offset.str(),
               " does not fit inside length [", n.str(), "]");
  Node node;
  node.op = Op::pad;
  node.type = Type{n, Dim(), t.shared};
  node.args = {a};
  node.offset = std::move(offset);
  return intern(std::move(node));
}

NodeId Graph::broadcast(NodeId a, Dim n) {
  check_value(a, "broadcast");
  const Type& t = type(a);
  if (!t.is_scalar())
    user_error("broadcast: the operand must have length 1, got ", t.str());
  if (n.is_zero() || !n.is_nonnegative()) user_error("broadcast: the length must be positive, got [", n.str(), "]");
  Node node;
  node.op = Op::broadcast;
  node.type = Type{n, Dim(), t.shared};
  node.args = {a};
  return intern(std::move(node));
}

NodeId Graph::batch_broadcast(NodeId a) {
  check_value(a, "batch_broadcast");
  const Type& t = type(a);
  if (t.is_matrix() || !t.shared)
    user_error("batch_broadcast: the operand must be a shared vector, got ", t.is_matrix() ? "the matrix " : "the per-row vector ",
               t.str());
  Node node;
  node.op = Op::batch_broadcast;
  node.type = Type::vector(t.rows);
  node.args = {a};
  return intern(std::move(node));
}

NodeId Graph::reduce(Op op, NodeId a) {
  check_value(a, op_name(op));
  const Type& t = type(a);
  if (op_family(op) != OpFamily::Reduce) internal_error(op_name(op), " is not a reduction");
  Node node;
  node.op = op;
  node.args = {a};
  if (op == Op::batch_sum) {
    if (t.shared) user_error("batch_sum: the operand is already shared by the batch");
    node.type = t;
    node.type.shared = true;
  } else {
    if (t.is_matrix()) user_error(op_name(op), ": operand is the matrix ", t.str(), "; only vectors can be reduced");
    node.type = Type{Dim::constant(1), Dim(), t.shared};
  }
  return intern(std::move(node));
}

NodeId Graph::make(const Node& p) {
  switch (op_family(p.op)) {
    case OpFamily::Leaf:
      switch (p.op) {
        case Op::input: return input(p.name, p.type.rows);
        case Op::state: return state(p.name, p.type.rows);
        case Op::param: return param(p.name, p.type.rows, p.type.cols);
        case Op::seed: return seed(p.name, p.type.rows, p.seed_role, p.seed_of);
        case Op::saved: return saved(p.name, p.type.rows);
        default: return constant(p.value, p.type.rows);
      }
    case OpFamily::Unary: return unary(p.op, p.args.at(0));
    case OpFamily::Binary: return binary(p.op, p.args.at(0), p.args.at(1));
    case OpFamily::Matmul:
      if (p.op == Op::matmul) return matmul(p.args.at(0), p.args.at(1));
      if (p.op == Op::matmul_t) return matmul_t(p.args.at(0), p.args.at(1));
      return outer(p.args.at(0), p.args.at(1));
    case OpFamily::Structural:
      if (p.op == Op::slice) return slice(p.args.at(0), p.offset, p.type.rows);
      if (p.op == Op::concat) return concat(p.args);
      if (p.op == Op::pad) return pad(p.args.at(0), p.offset, p.type.rows);
      if (p.op == Op::batch_broadcast) return batch_broadcast(p.args.at(0));
      return broadcast(p.args.at(0), p.type.rows);
    case OpFamily::Reduce: return reduce(p.op, p.args.at(0));
  }
  internal_error("unknown op");
}

void Graph::add_output(Role role, const std::string& name, NodeId node) {
  check_value(node, "output");
  if (find_output(role, name))
    user_error("cell '", name_, "' has two results '", role_name(role), " ", name, "'");
  outputs_.push_back({role, name, node});
}

const Output* Graph::find_output(Role role, const std::string& name) const {
  for (const Output& o : outputs_)
    if (o.role == role && o.name == name) return &o;
  return nullptr;
}

std::vector<NodeId> Graph::leaves(Op kind) const {
  std::vector<NodeId> out;
  for (NodeId id = 0; id < nodes_.size(); ++id)
    if (nodes_[id].op == kind) out.push_back(id);
  return out;
}

int64_t Graph::find_leaf(Op kind, const std::string& name) const {
  for (NodeId id = 0; id < nodes_.size(); ++id)
    if (nodes_[id].op == kind && nodes_[id].name == name) return id;
  return -1;
}

void Graph::set_label(NodeId id, const std::string& label) {
  check_value(id, "label");
  if (!labels_[id].empty() || op_family(nodes_[id].op) == OpFamily::Leaf || label.empty()) return;
  // Labels are for reading only: characters the text form cannot carry become '_'.
  std::string clean = label;
  for (char& c : clean)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) c = '_';
  if (std::isdigit(static_cast<unsigned char>(clean[0])) || clean[0] == '.') clean = "_" + clean;
  labels_[id] = clean;
}

const std::string& Graph::label(NodeId id) const {
  check_value(id, "label");
  return op_family(nodes_[id].op) == OpFamily::Leaf && nodes_[id].op != Op::constant ? nodes_[id].name
                                                                                     : labels_[id];
}

std::vector<std::string> Graph::dim_names() const {
  std::set<std::string> names;
  auto collect = [&](const Dim& d) {
    for (const auto& term : d.terms()) names.insert(term.first);
  };
  for (const Node& n : nodes_) {
    collect(n.type.rows);
    collect(n.type.cols);
    collect(n.offset);
  }
  return {names.begin(), names.end()};
}

uint64_t Graph::structural_hash() const {
  Fnv f;
  f.str(name_);
  for (const Node& n : nodes_) hash_into(f, n);
  for (const Output& o : outputs_) {
    f.pod(static_cast<uint8_t>(o.role));
    f.str(o.name);
    f.pod(o.node);
  }
  return f.h;
}

}  // namespace cellforge::ir
