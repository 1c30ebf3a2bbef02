// Proves reify(), the one bridge from the DSL's types to the runtime IR: each DSL construct
// becomes the IR op it stands for (split -> slices at 0, H, 2H, ...; numbers -> constants of
// length 1; named -> labels), leaves are declared in the documented order, repeated
// subexpressions become one node, user-named sizes flow through; and the zoo registry (names,
// lookup, every cell a valid cell).
#include <catch2/catch.hpp>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "dsl/dsl.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using namespace cellforge::dsl;

namespace {

int count_ops(const ir::Graph& g, ir::Op op) {
  int n = 0;
  for (ir::NodeId id : ir::live_nodes(g)) n += g.node(id).op == op;
  return n;
}

std::vector<std::string> leaf_names(const ir::Graph& g, ir::Op kind) {
  std::vector<std::string> names;
  for (ir::NodeId id : g.leaves(kind)) names.push_back(g.node(id).name);
  return names;
}

}  // namespace

TEST_CASE("reify declares inputs by first use, states in next() order, parameters by first use", "[unit]") {
  auto a = input("a"_s, X);
  auto b = input("b"_s, X);
  auto h1 = state("h1"_s, H);
  auto h2 = state("h2"_s, H);
  auto V = param("V"_s, H, X);
  auto U = param("U"_s, H, X);
  auto h1_next = tanh(U * b + h1 + h2);
  auto h2_next = sigmoid(V * a + h2);
  const ir::Graph g = reify(cell("c"_s, next(h2, h2_next), next(h1, h1_next), output(h1_next)));
  CHECK(g.name() == "c");
  CHECK(leaf_names(g, ir::Op::input) == std::vector<std::string>{"a", "b"});
  CHECK(leaf_names(g, ir::Op::state) == std::vector<std::string>{"h2", "h1"});
  CHECK(leaf_names(g, ir::Op::param) == std::vector<std::string>{"V", "U"});
  REQUIRE(g.outputs().size() == 3);
  CHECK(g.outputs()[0] == ir::Output{ir::Role::next, "h2", g.outputs()[0].node});
  CHECK(g.outputs()[1].name == "h1");
  CHECK(g.outputs()[2] == ir::Output{ir::Role::output, "y", g.outputs()[1].node});
}

TEST_CASE("split<k> is k slices at 0, n, 2n, ... and named values keep their names", "[unit]") {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W = param("W"_s, 4_c * H, X);
  auto [p, q, r, s] = split<4>(W * x);
  auto h_next = named("h_next"_s, tanh(p) * sigmoid(q) + relu(r) - exp(s) * h);
  const ir::Graph g = reify(cell("c"_s, next(h, h_next), output(h_next)));
  CHECK(count_ops(g, ir::Op::slice) == 4);
  std::vector<std::string> offsets;
  for (ir::NodeId id : ir::live_nodes(g))
    if (g.node(id).op == ir::Op::slice) {
      offsets.push_back(g.node(id).offset.str());
      CHECK(g.type(id) == ir::Type::vector(ir::Dim::named("H")));
    }
  std::sort(offsets.begin(), offsets.end());
  CHECK(offsets == std::vector<std::string>{"0", "2H", "3H", "H"});
  CHECK(g.label(g.find_output(ir::Role::next, "h")->node) == "h_next");
  CHECK(ir::print(g).find("%h_next = sub ") != std::string::npos);
}

TEST_CASE("numbers become shared constants of length 1, broadcast by the elementwise ops", "[unit]") {
  auto x = input("x"_s, X);
  auto h = state("h"_s, X);
  auto h_next = (1 - sigmoid(x)) * h + 0.5 * x / 2.0;
  const ir::Graph g = reify(cell("c"_s, next(h, h_next), output(h_next)));
  std::vector<double> constants;
  for (ir::NodeId id : ir::live_nodes(g))
    if (g.node(id).op == ir::Op::constant) {
      constants.push_back(g.node(id).value);
      CHECK(g.type(id) == ir::Type::shared_vector(ir::Dim::constant(1)));
    }
  std::sort(constants.begin(), constants.end());
  CHECK(constants == std::vector<double>{0.5, 1.0, 2.0});
}

TEST_CASE("each DSL function is its IR op", "[unit]") {
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto b = param("b"_s, H);
  auto W = param("W"_s, H, X);
  auto z = concat(W * x, h, b);  // [3H]
  auto m = mean(z) + sum(slice(z, H, H)) + sqrt(exp(h)) + rsqrt(exp(h)) + log(exp(b) + 1);
  auto h_next = named("h_next"_s, -stop_gradient(h) + slice(z, 0_c, H) * m);
  const ir::Graph g = reify(cell("c"_s, next(h, h_next), output("out"_s, h_next)));
  for (ir::Op op : {ir::Op::concat, ir::Op::mean, ir::Op::sum, ir::Op::sqrt, ir::Op::rsqrt, ir::Op::log, ir::Op::neg,
                    ir::Op::stop_gradient, ir::Op::matmul, ir::Op::exp}) {
    INFO(ir::op_name(op));
    CHECK(count_ops(g, op) >= 1);
  }
  CHECK(count_ops(g, ir::Op::exp) == 2);  // exp(h) written twice is one node
  CHECK(g.find_output(ir::Role::output, "out") != nullptr);
  CHECK(g.type(g.find_output(ir::Role::output, "out")->node) == ir::Type::vector(ir::Dim::named("H")));
}

TEST_CASE("a size the user names flows into the graph and must be bound", "[unit]") {
  constexpr auto P = dim("P"_s);
  auto x = input("x"_s, X);
  auto h = state("h"_s, P);
  auto c = state("c"_s, H);
  auto W = param("W"_s, H, X + P);
  auto R = param("R"_s, P, H);
  auto c_next = tanh(W * concat(x, h)) + c;
  auto h_next = R * c_next;
  const ir::Graph g = reify(cell("projected"_s, next(h, h_next), next(c, c_next), output(h_next)));
  CHECK(g.dim_names() == std::vector<std::string>{"H", "P", "X"});
  CHECK(ir::print(g).find("param %W : [H, P+X]") != std::string::npos);
  CHECK(g.type(g.find_output(ir::Role::output, "y")->node).rows == ir::Dim::named("P"));
}

TEST_CASE("the zoo: names in order, lookup by name, each cell valid", "[unit]") {
  std::vector<std::string> names;
  for (const auto& entry : zoo::cells()) {
    names.push_back(entry.name);
    CHECK(&zoo::find(entry.name) == &entry);
    CHECK_FALSE(entry.summary.empty());
    CHECK_FALSE(entry.equations.empty());
    CHECK_FALSE(entry.source.empty());
    const ir::Graph g = entry.build();
    CHECK(g.name() == entry.name);
    CHECK_NOTHROW(ir::verify_cell(g));
  }
  CHECK(names == std::vector<std::string>{"rnn", "rnn_relu", "lstm", "gru", "gru_classic", "peephole_lstm",
                                          "cifg_lstm", "lstmp", "layernorm_lstm", "mlstm", "mgu", "janet",
                                          "indrnn", "sru"});
  // PyTorch's parameter names and gate sizes.
  const ir::Graph lstm = zoo::find("lstm").build();
  CHECK(leaf_names(lstm, ir::Op::param) == std::vector<std::string>{"W_ih", "b_ih", "W_hh", "b_hh"});
  CHECK(lstm.type(static_cast<ir::NodeId>(lstm.find_leaf(ir::Op::param, "W_hh"))).str() == "[4H, H]");
  const ir::Graph gru = zoo::find("gru").build();
  CHECK(gru.type(static_cast<ir::NodeId>(gru.find_leaf(ir::Op::param, "W_ih"))).str() == "[3H, X]");
  CHECK(count_ops(zoo::find("rnn_relu").build(), ir::Op::relu) == 1);
}
