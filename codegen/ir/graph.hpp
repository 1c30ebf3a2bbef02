// The step graph: the runtime IR every stage after the DSL works on.
//
// A Graph describes one step of a recurrent cell, s_t, y_t = f_W(s_{t-1}, x_t), for one row of
// the batch. Its nodes are small and immutable, created only through the validating builders
// below, and hash-consed: building the same operation on the same operands twice returns the same
// NodeId, so common subexpressions are shared for free and "unchanged" is an id compare. Node ids
// are indices into the graph, and every operand has a smaller id than its user, so the node list
// is always in topological order.
//
// Leaves are named: inputs, states, parameters (declared by the cell), seeds (the adjoints of the
// forward results, in backward graphs) and saved values (in scheduled backward graphs). Results
// are named outputs with a role: the next value of a state, the cell's output, the gradient of a
// leaf, or a value the forward step saves for the backward step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "codegen/ir/dim.hpp"

namespace cellforge::ir {

enum class Op : uint8_t {
#define CF_OP(name, family, arity, meaning) name,
#include "codegen/ir/ops.def"
#undef CF_OP
};

enum class OpFamily : uint8_t { Leaf, Unary, Binary, Matmul, Structural, Reduce };

constexpr int kNumOps = 0
#define CF_OP(name, family, arity, meaning) +1
#include "codegen/ir/ops.def"
#undef CF_OP
    ;

/// True for names the text form can carry: a letter or '_', then letters, digits, '_' or '.'.
bool is_valid_name(const std::string& name);

/// The op's name as printed ("matmul_t").
const char* op_name(Op op);
/// The op's family (leaf, elementwise unary/binary, matmul, structural, reduction).
OpFamily op_family(Op op);
/// The op's number of operands; -1 for any number (concat).
int op_arity(Op op);
/// One line on what the op computes.
const char* op_meaning(Op op);
/// The op with this printed name, if there is one.
bool op_from_name(const std::string& name, Op* op);
bool is_elementwise(Op op);
/// add, sub, mul, div, neg: elementwise ops of one instruction, cheaper to recompute than to store.
bool is_arithmetic(Op op);

/// The type of a value: a vector of `rows` features per batch row, or, when `shared`, one vector
/// or one matrix [rows, cols] for the whole batch. Matrices are always shared.
struct Type {
  Dim rows;
  Dim cols;             // zero for vectors
  bool shared = false;  // the same for every row of the batch

  static Type vector(Dim n) { return {std::move(n), Dim(), false}; }
  static Type shared_vector(Dim n) { return {std::move(n), Dim(), true}; }
  static Type matrix(Dim r, Dim c) { return {std::move(r), std::move(c), true}; }
  bool is_matrix() const { return !cols.is_zero(); }
  /// One number per row (or one shared number): a vector of length 1, broadcast wherever it meets
  /// a longer one.
  bool is_scalar() const { return !is_matrix() && rows.is_constant(1); }
  bool operator==(const Type&) const = default;
  /// "[4H]" or "[4H, X]".
  std::string str() const;
};

using NodeId = uint32_t;

/// What an output of a graph is.
enum class Role : uint8_t {
  next,    // the next value of the state `name`
  output,  // the cell's output `name` (fed to the next layer and to the loss)
  grad,    // the gradient of the leaf `name` (summed over rows and steps for shared leaves)
  save,    // a forward value stored for the backward step, read back as the saved leaf `name`
};
const char* role_name(Role role);

struct Node {
  Op op;
  Type type;
  std::vector<NodeId> args;
  double value = 0;   // constant
  Dim offset;         // slice, pad
  std::string name;   // leaves
  // seed leaves: the forward result this is the adjoint of (role next or output, and its name)
  Role seed_role = Role::output;
  std::string seed_of;
};

struct Output {
  Role role;
  std::string name;
  NodeId node;
  bool operator==(const Output&) const = default;
};

class Graph {
 public:
  explicit Graph(std::string name = "cell");

  // --- leaves ---------------------------------------------------------------------------------
  NodeId input(const std::string& name, Dim n);
  NodeId state(const std::string& name, Dim n);
  /// A vector parameter [rows] (cols == zero) or a matrix parameter [rows, cols].
  NodeId param(const std::string& name, Dim rows, Dim cols = Dim());
  /// The adjoint of the forward result (role, of): next state `of`, or output `of`.
  NodeId seed(const std::string& name, Dim n, Role role, const std::string& of);
  NodeId saved(const std::string& name, Dim n);
  /// A constant: shared, of length `n` (default 1, broadcast by elementwise ops).
  NodeId constant(double value, Dim n = Dim::constant(1));

  // --- operations: each checks its operands and throws UserError when they do not fit ---------
  NodeId unary(Op op, NodeId a);
  NodeId binary(Op op, NodeId a, NodeId b);
  NodeId matmul(NodeId w, NodeId v);
  NodeId matmul_t(NodeId w, NodeId v);
  NodeId outer(NodeId a, NodeId b);
  NodeId slice(NodeId a, Dim offset, Dim n);
  NodeId concat(const std::vector<NodeId>& parts);
  NodeId pad(NodeId a, Dim offset, Dim n);
  NodeId broadcast(NodeId a, Dim n);
  /// A shared vector as a per-row value (every row the same).
  NodeId batch_broadcast(NodeId a);
  NodeId reduce(Op op, NodeId a);  // sum, mean, batch_sum
  /// Builds any op from its parts (used by the parser and by passes that copy nodes).
  NodeId make(const Node& prototype);

  // shorthands
  NodeId add(NodeId a, NodeId b) { return binary(Op::add, a, b); }
  NodeId sub(NodeId a, NodeId b) { return binary(Op::sub, a, b); }
  NodeId mul(NodeId a, NodeId b) { return binary(Op::mul, a, b); }
  NodeId div(NodeId a, NodeId b) { return binary(Op::div, a, b); }

  // --- results ----------------------------------------------------------------------------------
  void add_output(Role role, const std::string& name, NodeId node);
  const std::vector<Output>& outputs() const { return outputs_; }
  /// The output with this role and name, or nullptr.
  const Output* find_output(Role role, const std::string& name) const;

  // --- reading ----------------------------------------------------------------------------------
  const std::string& name() const { return name_; }
  void set_name(std::string name);
  size_t size() const { return nodes_.size(); }
  const Node& node(NodeId id) const { return nodes_.at(id); }
  const Type& type(NodeId id) const { return nodes_.at(id).type; }
  /// Leaves in creation order (declaration order for a cell).
  std::vector<NodeId> leaves(Op kind) const;
  /// The leaf of this kind and name, or -1.
  int64_t find_leaf(Op kind, const std::string& name) const;

  /// A readable name for an intermediate value ("i", "c_next"); labels do not change identity:
  /// the first label given to a node stays.
  void set_label(NodeId id, const std::string& label);
  const std::string& label(NodeId id) const;

  /// Every symbolic size the graph mentions ("H", "X", "P"), sorted.
  std::vector<std::string> dim_names() const;
  /// Structural hash of the graph (nodes, outputs, labels excluded): the cache key of compiled code.
  uint64_t structural_hash() const;

 private:
  NodeId intern(Node node);
  NodeId leaf(Op kind, const std::string& name, Type type);
  NodeId leaf(Node prototype);
  void check_value(NodeId id, const char* what) const;

  std::string name_;
  std::vector<Node> nodes_;
  std::vector<std::string> labels_;
  std::vector<Output> outputs_;
  std::unordered_multimap<size_t, NodeId> index_;  // node hash -> ids with that hash
};

/// The node's hash over its identity (op, type, operands, attributes).
size_t hash_node(const Node& node);
bool same_node(const Node& a, const Node& b);

}  // namespace cellforge::ir
