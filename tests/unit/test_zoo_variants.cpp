// The zoo's variant cells (runtime/zoo/variants.cpp) as `cellforge cells` lists them: each
// is registered under its name with a summary, its equations and its source; each builds into a
// graph of that name that passes verify_cell; each names its gates, so that the gradient telemetry
// finds them (a named sigmoid or tanh counts as a gate); and the shapes that set a variant apart
// from the plain LSTM (LSTMP's P-sized state, the peepholes' vectors, SRU's single state) are what
// the papers give.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "codegen/ir/verify.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

// The gates each variant names, and the activation each is.
const std::map<std::string, std::map<std::string, ir::Op>>& variant_gates() {
  using ir::Op;
  static const std::map<std::string, std::map<std::string, Op>> gates{
      {"peephole_lstm", {{"i", Op::sigmoid}, {"f", Op::sigmoid}, {"g", Op::tanh}, {"o", Op::sigmoid}}},
      {"cifg_lstm", {{"i", Op::sigmoid}, {"f", Op::sub}, {"g", Op::tanh}, {"o", Op::sigmoid}}},
      {"lstmp", {{"i", Op::sigmoid}, {"f", Op::sigmoid}, {"g", Op::tanh}, {"o", Op::sigmoid}}},
      {"layernorm_lstm", {{"i", Op::sigmoid}, {"f", Op::sigmoid}, {"g", Op::tanh}, {"o", Op::sigmoid}}},
      {"mlstm", {{"i", Op::sigmoid}, {"f", Op::sigmoid}, {"g", Op::tanh}, {"o", Op::sigmoid}}},
      {"mgu", {{"f", Op::sigmoid}, {"h_tilde", Op::tanh}}},
      {"janet", {{"f", Op::sigmoid}, {"f_shifted", Op::sigmoid}, {"c_tilde", Op::tanh}}},
      {"indrnn", {{"h_next", Op::relu}}},
      {"sru", {{"f", Op::sigmoid}, {"r", Op::sigmoid}}},
  };
  return gates;
}

const std::vector<std::string> kVariants{"peephole_lstm", "cifg_lstm", "lstmp", "layernorm_lstm", "mlstm",
                                         "mgu",           "janet",     "indrnn", "sru"};

std::string type_of_leaf(const ir::Graph& g, ir::Op kind, const std::string& name) {
  const int64_t id = g.find_leaf(kind, name);
  return id < 0 ? "(no " + name + ")" : g.type(static_cast<ir::NodeId>(id)).str();
}

}  // namespace

TEST_CASE("the zoo lists every variant cell with its equations and source", "[unit][zoo]") {
  std::vector<std::string> listed;
  for (const auto& entry : zoo::cells()) listed.push_back(entry.name);
  for (const std::string& name : kVariants) {
    INFO(name);
    REQUIRE(std::find(listed.begin(), listed.end(), name) != listed.end());
    const zoo::ZooCell& entry = zoo::find(name);
    CHECK_FALSE(entry.summary.empty());
    CHECK_FALSE(entry.equations.empty());
    CHECK_FALSE(entry.source.empty());
    CHECK(entry.summary.find('\n') == std::string::npos);  // one line in `cellforge cells`
  }
  // Listed after the basic cells, in the order of kVariants.
  const auto first = std::find(listed.begin(), listed.end(), kVariants.front());
  REQUIRE(listed.end() - first >= static_cast<std::ptrdiff_t>(kVariants.size()));
  CHECK(std::vector<std::string>(first, first + static_cast<std::ptrdiff_t>(kVariants.size())) == kVariants);
}

TEST_CASE("every zoo variant cell builds, is named after its entry and passes verify_cell", "[unit][zoo]") {
  for (const std::string& name : kVariants) {
    INFO(name);
    ir::Graph g;
    REQUIRE_NOTHROW(g = zoo::find(name).build());
    CHECK(g.name() == name);
    CHECK_NOTHROW(ir::verify_cell(g));
    CHECK(g.leaves(ir::Op::input).size() == 1);
  }
}

TEST_CASE("every zoo variant cell names its gates", "[unit][zoo]") {
  for (const auto& [name, gates] : variant_gates()) {
    const ir::Graph g = zoo::find(name).build();
    std::map<std::string, ir::Op> found;
    for (ir::NodeId id = 0; id < g.size(); ++id)
      if (!g.label(id).empty()) found[g.label(id)] = g.node(id).op;
    for (const auto& [gate, op] : gates) {
      INFO(name << ": gate " << gate);
      REQUIRE(found.count(gate) == 1);
      CHECK(found.at(gate) == op);
    }
  }
}

TEST_CASE("the zoo variants' distinguishing shapes", "[unit][zoo]") {
  using ir::Op;
  SECTION("lstmp: h has P features, c has H; W_hh reads P, W_hr projects H to P; the output is h") {
    const ir::Graph g = zoo::find("lstmp").build();
    CHECK(type_of_leaf(g, Op::state, "h") == "[P]");
    CHECK(type_of_leaf(g, Op::state, "c") == "[H]");
    CHECK(type_of_leaf(g, Op::param, "W_ih") == "[4H, X]");
    CHECK(type_of_leaf(g, Op::param, "W_hh") == "[4H, P]");
    CHECK(type_of_leaf(g, Op::param, "W_hr") == "[P, H]");
    CHECK(g.type(g.find_output(ir::Role::output, "y")->node).rows == ir::Dim::named("P"));
    CHECK(g.dim_names() == std::vector<std::string>{"H", "P", "X"});
  }
  SECTION("peephole_lstm: three diagonal peepholes; cifg_lstm: two, and three gate blocks") {
    const ir::Graph p = zoo::find("peephole_lstm").build();
    for (const char* w : {"w_ci", "w_cf", "w_co"}) CHECK(type_of_leaf(p, Op::param, w) == "[H]");
    const ir::Graph c = zoo::find("cifg_lstm").build();
    CHECK(type_of_leaf(c, Op::param, "W_ih") == "[3H, X]");
    CHECK(type_of_leaf(c, Op::param, "w_cf") == "(no w_cf)");
  }
  SECTION("layernorm_lstm: gain and bias per normalization, no separate gate bias") {
    const ir::Graph g = zoo::find("layernorm_lstm").build();
    for (const char* w : {"gamma_ih", "beta_ih", "gamma_hh", "beta_hh"}) CHECK(type_of_leaf(g, Op::param, w) == "[4H]");
    for (const char* w : {"gamma_c", "beta_c"}) CHECK(type_of_leaf(g, Op::param, w) == "[H]");
    CHECK(g.leaves(Op::param).size() == 8);
  }
  SECTION("indrnn: the recurrent weight is a vector; sru: one state c and a 4H input product") {
    const ir::Graph i = zoo::find("indrnn").build();
    CHECK(type_of_leaf(i, Op::param, "u") == "[H]");
    const ir::Graph s = zoo::find("sru").build();
    CHECK(s.leaves(Op::state).size() == 1);
    CHECK(type_of_leaf(s, Op::state, "c") == "[H]");
    CHECK(type_of_leaf(s, Op::param, "W") == "[4H, X]");
  }
  SECTION("janet and mgu keep one state; mlstm's m reads x and h through their own matrices") {
    CHECK(zoo::find("janet").build().leaves(Op::state).size() == 1);
    CHECK(zoo::find("mgu").build().leaves(Op::state).size() == 1);
    const ir::Graph m = zoo::find("mlstm").build();
    CHECK(type_of_leaf(m, Op::param, "W_mx") == "[H, X]");
    CHECK(type_of_leaf(m, Op::param, "W_mh") == "[H, H]");
    CHECK(type_of_leaf(m, Op::param, "W_m") == "[4H, H]");
  }
}
