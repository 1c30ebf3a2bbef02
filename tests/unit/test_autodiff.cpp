// Proves the structure of derived graphs (codegen/autodiff): seeds and gradient results are named
// and ordered as documented, the reverse sweep joins the LSTM's four gate adjoints into one concat
// (no zero-padded sums in any zoo derivative), equal adjoints are one node, activity analysis
// leaves out what stop_gradient cuts, and the derived graphs' own leaves never alias the cell's.
// The numbers are proved by tests/gradcheck; this is the shape a person reads.
#include <catch2/catch.hpp>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/passes/passes.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;
using ir::Dim;
using ir::Graph;
using ir::NodeId;
using ir::Op;
using ir::Role;

namespace {

std::vector<std::string> result_names(const Graph& g, Role role) {
  std::vector<std::string> names;
  for (const ir::Output& o : g.outputs())
    if (o.role == role) names.push_back(o.name);
  return names;
}

int count_ops(const Graph& g, Op op) {
  int n = 0;
  for (NodeId id : ir::live_nodes(g)) n += g.node(id).op == op;
  return n;
}

}  // namespace

TEST_CASE("seed names", "[unit]") {
  CHECK(autodiff::seed_name(Role::next, "h") == "dh_next");
  CHECK(autodiff::seed_name(Role::output, "y") == "dy");
}

TEST_CASE("differentiate: one seed per result, one gradient per leaf, in declaration order", "[unit]") {
  const Graph rnn = zoo::find("rnn").build();
  const Graph back = autodiff::differentiate(rnn);
  CHECK(back.name() == "rnn_grad");
  CHECK_NOTHROW(ir::verify(back));
  std::vector<std::string> seeds;
  for (NodeId s : back.leaves(Op::seed)) seeds.push_back(back.node(s).name + " for " + back.node(s).seed_of);
  CHECK(seeds == std::vector<std::string>{"dh_next for h", "dy for y"});
  CHECK(result_names(back, Role::grad) == std::vector<std::string>{"x", "h", "W_ih", "b_ih", "W_hh", "b_hh"});
  CHECK(result_names(back, Role::next).empty());
  CHECK(result_names(back, Role::output).empty());
  // Both biases receive the same adjoint, batch-summed: hash-consing makes it one node.
  CHECK(back.find_output(Role::grad, "b_ih")->node == back.find_output(Role::grad, "b_hh")->node);
  CHECK(back.node(back.find_output(Role::grad, "b_ih")->node).op == Op::batch_sum);
  // Gradients have their leaves' types.
  for (const ir::Output& o : back.outputs()) {
    INFO(o.name);
    const ir::Type& leaf = rnn.type(static_cast<NodeId>(std::max(
        {rnn.find_leaf(Op::input, o.name), rnn.find_leaf(Op::state, o.name), rnn.find_leaf(Op::param, o.name)})));
    CHECK(back.type(o.node) == leaf);
  }
}

TEST_CASE("differentiate: the LSTM's gate adjoints are joined by one concat, no pads", "[unit]") {
  const Graph back = autodiff::differentiate(zoo::find("lstm").build());
  CHECK(result_names(back, Role::grad) == std::vector<std::string>{"x", "h", "c", "W_ih", "b_ih", "W_hh", "b_hh"});
  CHECK(count_ops(back, Op::concat) == 1);
  CHECK(count_ops(back, Op::pad) == 0);
  const NodeId dz = back.node(back.find_output(Role::grad, "W_hh")->node).args[0];
  CHECK(back.node(dz).op == Op::concat);
  CHECK(back.node(dz).args.size() == 4);
  CHECK(back.type(dz) == ir::Type::vector(Dim::named("H") * 4));
  CHECK(back.node(back.find_output(Role::grad, "h")->node).op == Op::matmul_t);
  CHECK(back.node(back.find_output(Role::grad, "W_ih")->node).op == Op::outer);
}

// A mean's adjoint is g/n broadcast to its operand's length (layer norm has some), so derivative
// graphs may hold broadcasts; the simplify pass folds them into the elementwise ops that read them
// (a length-1 operand broadcasts anyway), so the scheduled backward graph has none.
TEST_CASE("no zoo derivative graph contains a pad, nor a scheduled one a broadcast", "[unit]") {
  for (const auto& entry : zoo::cells()) {
    INFO(entry.name);
    const Graph cell = entry.build();
    for (const Graph& g : {autodiff::differentiate(cell), autodiff::linearize(cell), autodiff::state_vjp(cell)}) {
      CHECK(count_ops(g, Op::pad) == 0);
      CHECK_NOTHROW(ir::verify(g));
    }
    const passes::LayerSchedule schedule = passes::schedule_layer(cell);
    CHECK(count_ops(schedule.forward.graph, Op::broadcast) == 0);
    CHECK(count_ops(schedule.backward.graph, Op::broadcast) == 0);
  }
}

TEST_CASE("linearize: tangent inputs d<state>, tangent results d<state>_next", "[unit]") {
  const Graph jvp = autodiff::linearize(zoo::find("lstm").build());
  CHECK(jvp.name() == "lstm_jvp");
  std::vector<std::string> inputs;
  for (NodeId id : jvp.leaves(Op::input)) inputs.push_back(jvp.node(id).name);
  CHECK(inputs == std::vector<std::string>{"x", "dh", "dc"});
  CHECK(result_names(jvp, Role::output) == std::vector<std::string>{"dh_next", "dc_next"});
  CHECK(jvp.leaves(Op::seed).empty());
}

TEST_CASE("state_vjp: seeds for next states only, gradients for states only", "[unit]") {
  const Graph vjp = autodiff::state_vjp(zoo::find("gru").build());
  CHECK(vjp.name() == "gru_vjp");
  CHECK(vjp.leaves(Op::seed).size() == 1);
  CHECK(result_names(vjp, Role::grad) == std::vector<std::string>{"h"});
  CHECK(count_ops(vjp, Op::outer) == 0);  // no parameter gradients
}

TEST_CASE("activity: nothing is differentiated through stop_gradient", "[unit]") {
  Graph g("c");
  NodeId x = g.input("x", Dim::named("H"));
  NodeId z = g.input("z", Dim::named("H"));
  NodeId h = g.state("h", Dim::named("H"));
  NodeId h_next = g.unary(Op::tanh, g.add(h, g.unary(Op::stop_gradient, g.mul(x, z))));
  g.add_output(Role::next, "h", h_next);
  g.add_output(Role::output, "y", h_next);
  const Graph back = autodiff::differentiate(g);
  CHECK(result_names(back, Role::grad) == std::vector<std::string>{"h"});
  // The forward copy keeps x * z, but no adjoint is built for it: the only other products are
  // tanh's derivative, y * y and g * (1 - y^2).
  CHECK(count_ops(back, Op::mul) == 3);
}

// BUG (reported): linearize names the tangent of state s "d" + s, and Graph::input hands back the
// existing leaf when a cell already has an input of that name and size, so the tangent silently
// becomes the cell's own input: one leaf, two meanings, a wrong JVP and no error.
TEST_CASE("linearize never aliases a tangent with a leaf of the cell", "[unit]") {
  Graph g("c");
  const Dim H = Dim::named("H");
  NodeId dh = g.input("dh", H);  // an input that happens to be called dh
  NodeId h = g.state("h", H);
  NodeId h_next = g.unary(Op::tanh, g.add(g.matmul(g.param("U", H, H), h), dh));
  g.add_output(Role::next, "h", h_next);
  g.add_output(Role::output, "y", h_next);
  REQUIRE_NOTHROW(ir::verify_cell(g));
  try {
    const Graph jvp = autodiff::linearize(g);
    CHECK(jvp.leaves(Op::input).size() == 2);  // the cell's dh and a distinct tangent of h
  } catch (const UserError& e) {
    SUCCEED("refused: " << e.what());
  }
}

TEST_CASE("differentiate refuses a cell whose leaf has a seed's name, naming it", "[unit]") {
  Graph g("c");
  const Dim H = Dim::named("H");
  NodeId dy = g.input("dy", H);
  NodeId h = g.state("h", H);
  NodeId h_next = g.unary(Op::tanh, g.add(h, dy));
  g.add_output(Role::next, "h", h_next);
  g.add_output(Role::output, "y", h_next);
  CHECK_THROWS_WITH(autodiff::differentiate(g),
                    "the name 'dy' is used twice in cell 'c_grad': as an input [H] and as a seed [H]; give them "
                    "different names");
}
