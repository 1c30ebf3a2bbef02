// Proves that the step graph's validating builders (codegen/ir/graph.cpp) refuse every ill-typed
// node with a UserError whose whole text names the op, the shapes and the rule: matrix products
// with mismatched sizes or operands, slices outside their vector, structural ops on matrices,
// elementwise ops on different lengths or on matrices, reductions, leaves without a name, of
// length 0, or reusing another leaf's name, and results given twice. A refused node leaves the
// graph as it was.
#include <catch2/catch.hpp>

#include "codegen/ir/error.hpp"
#include "codegen/ir/graph.hpp"

using namespace cellforge;
using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;

namespace {

const Dim H = Dim::named("H");
const Dim X = Dim::named("X");

struct Leaves {
  Graph g{"c"};
  NodeId x = g.input("x", X);
  NodeId h = g.state("h", H);
  NodeId b = g.param("b", H);
  NodeId W = g.param("W", H, X);
};

}  // namespace

TEST_CASE("errors: graph builder: matrix products: inner sizes and operand kinds", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(l.g.matmul(l.W, l.h),
                    "matmul: the matrix [H, X] has X columns but the vector has length [H]; they must be equal");
  CHECK_THROWS_WITH(l.g.matmul(l.h, l.x), "matmul: the left operand must be a matrix, got the vector [H]");
  CHECK_THROWS_WITH(l.g.matmul(l.W, l.W), "matmul: the right operand must be a vector, got the matrix [H, X]");
  CHECK_THROWS_WITH(l.g.matmul_t(l.W, l.x),
                    "matmul_t: the matrix [H, X] has H rows but the vector has length [X]; they must be equal");
  CHECK_THROWS_WITH(l.g.matmul_t(l.x, l.h), "matmul_t: the left operand must be a matrix, got the vector [X]");
  CHECK_THROWS_WITH(l.g.outer(l.W, l.h), "outer: operands must be vectors, got [H, X] and [H]");
  CHECK_THROWS_WITH(
      l.g.outer(l.h, l.b),
      "outer: one operand is shared by the batch and the other is not; both must be per-row or both shared");
}

TEST_CASE("errors: graph builder: slices must lie inside their vector", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(l.g.slice(l.h, H, H), "slice: [H, 2H) does not lie inside a vector of length [H]");
  CHECK_THROWS_WITH(l.g.slice(l.h, Dim(), H * 2), "slice: [0, 2H) does not lie inside a vector of length [H]");
  // Every named size is >= 1, so [0, 1) fits any [H]; [0, 2) may not.
  CHECK_NOTHROW(l.g.slice(l.h, Dim(), Dim::constant(1)));
  CHECK_THROWS_WITH(l.g.slice(l.h, Dim(), Dim::constant(2)),
                    "slice: [0, 2) does not lie inside a vector of length [H]");
  CHECK_THROWS_WITH(l.g.slice(l.h, Dim(), Dim()), "slice: the length must be positive, got [0]");
  CHECK_THROWS_WITH(l.g.slice(l.h, Dim(), H * -1), "slice: the length must be positive, got [-H]");
  CHECK_THROWS_WITH(l.g.slice(l.h, Dim::constant(-1), H), "slice: the offset must not be negative, got -1");
  CHECK_THROWS_WITH(l.g.slice(l.W, Dim(), H), "slice: operand is the matrix [H, X]; only vectors can be sliced");
}

TEST_CASE("errors: graph builder: structural ops take vectors that fit", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(l.g.concat({l.h, l.W}), "concat: operand is the matrix [H, X]; only vectors can be concatenated");
  CHECK_THROWS_WITH(l.g.concat({}), "concat needs at least one operand");
  CHECK_THROWS_WITH(l.g.pad(l.h, Dim::constant(1), H),
                    "pad: a vector of length [H] at offset 1 does not fit inside length [H]");
  CHECK_THROWS_WITH(l.g.pad(l.h, Dim::constant(-1), H * 2),
                    "pad: a vector of length [H] at offset -1 does not fit inside length [2H]");
  CHECK_THROWS_WITH(l.g.pad(l.W, Dim(), H * 2), "pad: operand is the matrix [H, X]; only vectors can be padded");
  CHECK_THROWS_WITH(l.g.broadcast(l.h, H), "broadcast: the operand must have length 1, got [H]");
  CHECK_THROWS_WITH(l.g.broadcast(l.g.constant(1.0), Dim()), "broadcast: the length must be positive, got [0]");
}

TEST_CASE("errors: graph builder: elementwise ops take vectors of one length, or one of length 1", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(l.g.add(l.h, l.x),
                    "add: operand lengths differ: [H] and [X]; elementwise operands need the same length, or one of "
                    "length 1");
  CHECK_THROWS_WITH(l.g.div(l.b, l.x),
                    "div: operand lengths differ: [H] and [X]; elementwise operands need the same length, or one of "
                    "length 1");
  CHECK_THROWS_WITH(l.g.mul(l.W, l.h),
                    "mul: a matrix [H, X] and a vector [H] cannot be combined elementwise; matrices combine only with "
                    "matrices of the same shape");
  CHECK_THROWS_WITH(
      l.g.sub(l.W, l.g.param("V", X, H)),
      "sub: a matrix [H, X] and a matrix [X, H] cannot be combined elementwise; matrices combine only with "
      "matrices of the same shape");
  CHECK_THROWS_WITH(l.g.unary(Op::tanh, l.W),
                    "tanh: operand is the matrix [H, X]; elementwise ops take vectors (a matrix parameter can only be "
                    "used as W in a matmul W*v)");
}

TEST_CASE("errors: graph builder: reductions", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(l.g.reduce(Op::sum, l.W), "sum: operand is the matrix [H, X]; only vectors can be reduced");
  CHECK_THROWS_WITH(l.g.reduce(Op::mean, l.W), "mean: operand is the matrix [H, X]; only vectors can be reduced");
  CHECK_THROWS_WITH(l.g.reduce(Op::batch_sum, l.b), "batch_sum: the operand is already shared by the batch");
  CHECK_THROWS_WITH(l.g.reduce(Op::batch_sum, l.W), "batch_sum: the operand is already shared by the batch");
}

TEST_CASE("errors: graph builder: leaves: a name, a positive length, one meaning per name", "[errors]") {
  Leaves l;
  CHECK_THROWS_WITH(
      l.g.input("h", H),
      "the name 'h' is used twice in cell 'c': as a state [H] and as an input [H]; give them different names");
  CHECK_THROWS_WITH(l.g.param("W", H, H),
                    "the name 'W' is used twice in cell 'c': as a parameter [H, X] and as a parameter [H, H]; give them "
                    "different names");
  CHECK_THROWS_WITH(l.g.input("z", Dim()), "input 'z' must have a positive length, got [0]");
  CHECK_THROWS_WITH(l.g.state("s", H - X), "state 's' must have a positive length, got [H-X]");
  CHECK_THROWS_WITH(l.g.param("V", H, X * -1), "param 'V' must have positive dimensions, got [H, -X]");
  CHECK_THROWS_WITH(l.g.param("V", Dim(), X), "param 'V' must have a positive length, got [0]");
  CHECK_THROWS_WITH(l.g.input("", H), "an input needs a name");
  CHECK_THROWS_WITH(l.g.constant(1.0, Dim()), "a constant needs a positive length, got [0]");
}

TEST_CASE("errors: graph builder: results and seeds: one per role and name", "[errors]") {
  Leaves l;
  l.g.add_output(ir::Role::next, "h", l.h);
  CHECK_THROWS_WITH(l.g.add_output(ir::Role::next, "h", l.h), "cell 'c' has two results 'next h'");
  l.g.seed("dh_next", H, ir::Role::next, "h");
  CHECK_THROWS_WITH(l.g.seed("dh_again", H, ir::Role::next, "h"), "two seeds for next 'h': 'dh_next' and 'dh_again'");
}

TEST_CASE("errors: graph builder: a refused node leaves the graph unchanged", "[errors]") {
  Leaves l;
  const size_t size = l.g.size();
  const uint64_t hash = l.g.structural_hash();
  CHECK_THROWS_AS(l.g.matmul(l.W, l.h), UserError);
  CHECK_THROWS_AS(l.g.slice(l.h, H, H), UserError);
  CHECK_THROWS_AS(l.g.input("h", H), UserError);
  CHECK(l.g.size() == size);
  CHECK(l.g.structural_hash() == hash);
}
