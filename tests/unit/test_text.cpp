// Proves the text form of step graphs (codegen/ir/text.hpp): print -> parse -> print is the
// identity for every zoo cell and every graph derived from one (differentiate, linearize,
// state_vjp) and for the derivative graphs of the op-level gradient-check cases; a parsed graph is
// the same graph (verify passes, same structural hash, same values); and malformed text is
// rejected with a message that names the line, the problem and the text, checked word for word.
#include <catch2/catch.hpp>
#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/error.hpp"
#include "codegen/ir/interpreter.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/ir/verify.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/gradcheck.hpp"
#include "support/op_cases.hpp"

using namespace cellforge;

namespace {

// Every graph the zoo leads to: the cell, its backward graph, its JVP and its state VJP.
std::vector<ir::Graph> zoo_graphs() {
  std::vector<ir::Graph> out;
  for (const auto& entry : zoo::cells()) {
    ir::Graph cell = entry.build();
    out.push_back(autodiff::differentiate(cell));
    out.push_back(autodiff::linearize(cell));
    out.push_back(autodiff::state_vjp(cell));
    out.push_back(std::move(cell));
  }
  return out;
}

void check_round_trip(const ir::Graph& g) {
  INFO("graph " << g.name());
  const std::string text = ir::print(g);
  const ir::Graph parsed = ir::parse(text);
  CHECK(ir::print(parsed) == text);
  CHECK(parsed.name() == g.name());
  CHECK_NOTHROW(ir::verify(parsed));
  CHECK(parsed.outputs().size() == g.outputs().size());
}

// The message of the UserError that parsing `text` throws ("" if it parses).
std::string parse_error(const std::string& text) {
  try {
    ir::parse(text);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

const char* kRnn =
    "cell rnn {\n"
    "  input %x : [X]\n"
    "  state %h : [H]\n"
    "  param %W : [H, X]\n"
    "  param %U : [H, H]\n"
    "  %0 = matmul %W, %x : [H]\n"
    "  %1 = matmul %U, %h : [H]\n"
    "  %2 = add %0, %1 : [H]\n"
    "  %h_next = tanh %2 : [H]\n"
    "  next h = %h_next\n"
    "  output y = %h_next\n"
    "}\n";

}  // namespace

TEST_CASE("print -> parse -> print is the identity for every zoo cell and its derived graphs", "[unit]") {
  const auto graphs = zoo_graphs();
  CHECK(graphs.size() == 4 * zoo::cells().size());
  for (const ir::Graph& g : graphs) check_round_trip(g);
}

TEST_CASE("print -> parse -> print is the identity for the op cases and their derivatives", "[unit]") {
  for (const auto& c : testing::op_cases()) {
    INFO("case " << c.name);
    const ir::Graph g = c.build();
    check_round_trip(g);
    check_round_trip(autodiff::differentiate(g));
    check_round_trip(autodiff::linearize(testing::inputs_as_states(g)));
  }
}

TEST_CASE("a parsed zoo graph is the same graph: same hash, same values", "[unit]") {
  const ir::Bindings bindings = {{"X", 3}, {"H", 4}, {"P", 2}};  // P: lstmp's projection
  for (const ir::Graph& g : zoo_graphs()) {
    INFO("graph " << g.name());
    const ir::Graph parsed = ir::parse(ir::print(g));
    // Printing leaves out dead nodes, so hashes agree only where the graph had none; the cells do not.
    if (ir::live_nodes(g).size() == g.size()) CHECK(parsed.structural_hash() == g.structural_hash());
    std::mt19937_64 rng(1);
    const auto leaves =
        testing::random_leaves(g, bindings, 2, {ir::Op::input, ir::Op::state, ir::Op::param, ir::Op::seed}, {}, rng);
    const auto a = ir::evaluate_outputs(g, bindings, 2, leaves);
    const auto b = ir::evaluate_outputs(parsed, bindings, 2, leaves);
    REQUIRE(a.size() == b.size());
    for (const auto& [key, value] : a) CHECK(b.at(key).data == value.data);
  }
}

TEST_CASE("the printed form reads like the cell: leaves, values named by their labels, results", "[unit]") {
  const ir::Graph parsed = ir::parse(kRnn);
  CHECK(ir::print(parsed) == kRnn);
  CHECK(parsed.leaves(ir::Op::input).size() == 1);
  CHECK(parsed.leaves(ir::Op::param).size() == 2);
  CHECK(parsed.label(parsed.find_output(ir::Role::next, "h")->node) == "h_next");
  CHECK_NOTHROW(ir::verify_cell(parsed));
}

TEST_CASE("the parser accepts comments, blank lines and constants", "[unit]") {
  const ir::Graph g = ir::parse(
      "# a comment before the graph\n"
      "\n"
      "cell scaled {   # trailing comment\n"
      "  input %x : [H]\n"
      "  %half = constant 0.5 : [1]\n"
      "  %tiny = constant 1e-05 : [1]\n"
      "  %y = mul %x, %half : [H]\n"
      "  %z = add %y, %tiny : [H]\n"
      "  output y = %z\n"
      "}\n");
  CHECK(g.name() == "scaled");
  // Constants are leaves and carry no label: they print numbered, with the shortest exact text.
  CHECK(ir::print(g).find(" = constant 1e-05 : [1]") != std::string::npos);
  CHECK(ir::print(g).find(" = constant 0.5 : [1]") != std::string::npos);
  CHECK(ir::print(g).find("%y = mul %x, %") != std::string::npos);
}

TEST_CASE("parse errors name the line, the problem and the text", "[unit]") {
  SECTION("unknown op") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  %0 = frobnicate %x : [H]\n}\n") ==
          "line 3: unknown op 'frobnicate' in '  %0 = frobnicate %x : [H]'");
  }
  SECTION("use before definition") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  %0 = add %x, %later : [H]\n  %later = tanh %x : [H]\n}\n") ==
          "line 3: %later is used before it is defined in '  %0 = add %x, %later : [H]'");
  }
  SECTION("wrong type annotation") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  %0 = tanh %x : [X]\n}\n") ==
          "line 3: %0 has type [H] but the text says [X] in '  %0 = tanh %x : [X]'");
    CHECK(parse_error("cell c {\n  param %W : [H, X]\n  input %x : [X]\n  %0 = matmul %W, %x : [H, X]\n}\n") ==
          "line 4: %0 has type [H] but the text says [H, X] in '  %0 = matmul %W, %x : [H, X]'");
  }
  SECTION("missing closing brace") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  output y = %x\n") == "line 3: the graph is not closed with '}'");
  }
  SECTION("empty text and a wrong header") {
    CHECK(parse_error("") == "empty graph text: expected 'cell NAME {'");
    CHECK(parse_error("# only a comment\n") == "empty graph text: expected 'cell NAME {'");
    CHECK(parse_error("graph c {\n}\n") == "line 1: a graph starts with 'cell NAME {' in 'graph c {'");
    CHECK(parse_error("cell c\n}\n") == "line 1: expected '{' in 'cell c'");
  }
  SECTION("text after the closing brace") {
    CHECK(parse_error("cell c {\n}\ninput %x : [H]\n") == "line 3: text after the closing '}' in 'input %x : [H]'");
  }
  SECTION("wrong number of operands") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  %0 = add %x : [H]\n}\n") ==
          "line 3: add takes 2 operands, got 1 in '  %0 = add %x : [H]'");
  }
  SECTION("a size that is not a size") {
    CHECK(parse_error("cell c {\n  input %x : [H+]\n}\n") ==
          "line 2: 'H+' is not a size (expected e.g. H, 4H, H+X, 1) in '  input %x : [H+]'");
    CHECK(parse_error("cell c {\n  input %x : [4*H]\n}\n") == "line 2: expected ']' in '  input %x : [4*H]'");
  }
  SECTION("a value defined twice") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  %a = tanh %x : [H]\n  %a = neg %x : [H]\n}\n") ==
          "line 4: %a is defined twice in '  %a = neg %x : [H]'");
  }
  SECTION("a type rule broken inside the text") {
    CHECK(parse_error("cell c {\n  input %x : [H]\n  param %W : [H, X]\n  %0 = matmul %W, %x : [H]\n}\n") ==
          "line 4: matmul: the matrix [H, X] has X columns but the vector has length [H]; they must be equal in "
          "'  %0 = matmul %W, %x : [H]'");
  }
  SECTION("a leaf written as a value, a bad number, a bad seed, a bad line") {
    CHECK(parse_error("cell c {\n  %x = input : [H]\n}\n") ==
          "line 2: leaves are declared as 'input %name : [size]', not assigned in '  %x = input : [H]'");
    CHECK(parse_error("cell c {\n  %k = constant one : [1]\n}\n") ==
          "line 2: 'one' is not a number in '  %k = constant one : [1]'");
    CHECK(parse_error("cell c {\n  seed %d for gradient h : [H]\n}\n") ==
          "line 2: unknown role 'gradient' in '  seed %d for gradient h : [H]'");
    CHECK(parse_error("cell c {\n  return %x\n}\n") ==
          "line 2: expected a value (%name = op ...), a leaf (input, state, param, seed, saved) or a result (next, "
          "output, grad, save) in '  return %x'");
    CHECK(parse_error("cell c {\n  input %x : [H] extra\n}\n") ==
          "line 2: unexpected text at the end of the line in '  input %x : [H] extra'");
  }
}

// BUG (reported): a value line is not checked for text after its type (parser.cpp `continue`s
// before the end-of-line check that leaf and result lines get), so a typo there is silently dropped.
TEST_CASE("parse rejects text after the type of a value line", "[unit]") {
  CHECK(parse_error("cell c {\n  input %x : [H]\n  %0 = tanh %x : [H] extra\n  output y = %0\n}\n") ==
        "line 3: unexpected text at the end of the line in '  %0 = tanh %x : [H] extra'");
}

// BUG (reported): names are not checked where they enter (Graph's constructor, leaves, labels;
// the DSL passes any hana string through), so a name with a space prints as text that does not
// parse back, breaking the round trip. Either refusing such a name or printing it so that it
// reads back would do.
TEST_CASE("a graph whose names the text form cannot carry is refused or still round-trips", "[unit]") {
  for (const std::string name : {"my cell", "x y", "a%b", "c#d"}) {
    INFO("name '" << name << "'");
    std::string text;
    try {
      ir::Graph g(name);
      ir::NodeId x = g.input(name, ir::Dim::named("H"));
      ir::NodeId t = g.unary(ir::Op::tanh, x);
      g.set_label(t, name);
      g.add_output(ir::Role::output, name, t);
      text = ir::print(g);
    } catch (const UserError&) {
      continue;  // refused where it entered: fine
    }
    CHECK(parse_error(text) == "");
  }
}
