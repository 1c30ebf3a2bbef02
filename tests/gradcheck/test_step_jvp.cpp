// Proves the one-step derivatives with respect to the state of every zoo cell:
//   - linearize (the JVP J v of s_t = f(s_{t-1}, x_t)) against central differences of the step along
//     v, (f(s + eps v) - f(s - eps v)) / 2 eps, per element (reliability.md G1 tolerances);
//   - state_vjp (J^T u) against linearize through the identity <u, J v> = <J^T u, v>;
//   - state_vjp against differentiate's state gradients when the output seed is zero.
#include <catch2/catch.hpp>
#include <cstdio>

#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/reference_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/gradcheck.hpp"

using namespace cellforge;
using testing::Comparison;

namespace {

const ir::Bindings kBindings = {{"X", 3}, {"H", 4}, {"P", 2}};  // P: lstmp's projection
constexpr int64_t kBatch = 3;

struct Step {
  ir::Graph cell;
  ir::LeafValues leaves;    // inputs, states, parameters
  ir::LeafValues tangents;  // "d" + state: the direction v
  ir::LeafValues seeds;     // "d" + state + "_next": the cotangent u
};

Step random_step(const std::string& name, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Step s{zoo::find(name).build(), {}, {}, {}};
  s.leaves = testing::random_leaves(s.cell, kBindings, kBatch, {ir::Op::input, ir::Op::state}, {-1, 1, false}, rng);
  const ir::LeafValues params =
      testing::random_leaves(s.cell, kBindings, kBatch, {ir::Op::param}, {-0.6, 0.6, false}, rng);
  s.leaves.insert(params.begin(), params.end());
  for (ir::NodeId id : s.cell.leaves(ir::Op::state)) {
    const std::string& state = s.cell.node(id).name;
    const ir::Array& value = s.leaves.at(state);
    s.tangents["d" + state] = testing::random_array(value.rows, value.cols, {}, rng);
    s.seeds[autodiff::seed_name(ir::Role::next, state)] = testing::random_array(value.rows, value.cols, {}, rng);
  }
  return s;
}

ir::LeafValues merged(const ir::LeafValues& a, const ir::LeafValues& b) {
  ir::LeafValues out = a;
  out.insert(b.begin(), b.end());
  return out;
}

}  // namespace

TEST_CASE("linearize matches central differences of one step, every zoo cell", "[gradcheck]") {
  Comparison total;
  for (const auto& entry : zoo::cells())
    for (uint64_t seed : {21, 22, 23}) {
      INFO("cell " << entry.name << ", seed " << seed);
      const Step s = random_step(entry.name, seed);
      const auto jvp =
          ir::evaluate_outputs(autodiff::linearize(s.cell), kBindings, kBatch, merged(s.leaves, s.tangents));
      ir::LeafValues plus = s.leaves, minus = s.leaves;
      for (const auto& [name, tangent] : s.tangents) {
        const std::string state = name.substr(1);
        for (size_t i = 0; i < tangent.data.size(); ++i) {
          plus[state].data[i] += testing::kEps * tangent.data[i];
          minus[state].data[i] -= testing::kEps * tangent.data[i];
        }
      }
      const auto next_plus = ir::evaluate_outputs(s.cell, kBindings, kBatch, plus);
      const auto next_minus = ir::evaluate_outputs(s.cell, kBindings, kBatch, minus);
      Comparison r;
      for (ir::NodeId id : s.cell.leaves(ir::Op::state)) {
        const std::string& state = s.cell.node(id).name;
        const ir::Array& analytic = jvp.at("output d" + state + "_next");
        const ir::Array& p = next_plus.at("next " + state);
        const ir::Array& m = next_minus.at("next " + state);
        REQUIRE(analytic.rows == p.rows);
        REQUIRE(analytic.cols == p.cols);
        for (size_t i = 0; i < p.data.size(); ++i)
          r.add("d" + state + "_next[" + std::to_string(i) + "]", analytic.data[i],
                (p.data[i] - m.data[i]) / (2 * testing::kEps));
      }
      INFO(r.summary());
      CHECK(r.ok);
      total.merge(r);
    }
  std::printf("step JVP of the zoo: %s\n", total.summary().c_str());
}

TEST_CASE("state_vjp is the transpose of linearize: <u, J v> = <J^T u, v>", "[gradcheck]") {
  for (const auto& entry : zoo::cells())
    for (uint64_t seed : {31, 32}) {
      INFO("cell " << entry.name << ", seed " << seed);
      const Step s = random_step(entry.name, seed);
      const auto jv =
          ir::evaluate_outputs(autodiff::linearize(s.cell), kBindings, kBatch, merged(s.leaves, s.tangents));
      const auto jtu = ir::evaluate_outputs(autodiff::state_vjp(s.cell), kBindings, kBatch, merged(s.leaves, s.seeds));
      double u_jv = 0, jtu_v = 0;
      for (ir::NodeId id : s.cell.leaves(ir::Op::state)) {
        const std::string& state = s.cell.node(id).name;
        u_jv +=
            testing::inner(s.seeds.at(autodiff::seed_name(ir::Role::next, state)), jv.at("output d" + state + "_next"));
        jtu_v += testing::inner(jtu.at("grad " + state), s.tangents.at("d" + state));
      }
      Comparison r;
      r.add("<u, Jv> vs <J^T u, v>", jtu_v, u_jv);
      INFO(r.summary());
      CHECK(r.ok);
    }
}

TEST_CASE("state_vjp equals differentiate's state gradients when dy = 0", "[gradcheck]") {
  for (const auto& entry : zoo::cells()) {
    INFO("cell " << entry.name);
    const Step s = random_step(entry.name, 41);
    const ir::Graph vjp = autodiff::state_vjp(s.cell);
    const ir::Graph full = autodiff::differentiate(s.cell);
    // state_vjp seeds only the next states and gives only state gradients.
    CHECK(vjp.leaves(ir::Op::seed).size() == s.cell.leaves(ir::Op::state).size());
    for (const ir::Output& o : vjp.outputs()) {
      CHECK(o.role == ir::Role::grad);
      CHECK(s.cell.find_leaf(ir::Op::state, o.name) >= 0);
    }
    ir::LeafValues leaves = merged(s.leaves, s.seeds);
    const auto a = ir::evaluate_outputs(vjp, kBindings, kBatch, leaves);
    const ir::NodeId y = s.cell.find_output(ir::Role::output, ir::output_name(s.cell))->node;
    leaves["dy"] = ir::Array(kBatch, s.cell.type(y).rows.bind(kBindings));  // H, or lstmp's P
    const auto b = ir::evaluate_outputs(full, kBindings, kBatch, leaves);
    Comparison r;
    for (ir::NodeId id : s.cell.leaves(ir::Op::state)) {
      const std::string key = ir::output_key(ir::Role::grad, s.cell.node(id).name);
      REQUIRE(a.count(key) == 1);
      for (size_t i = 0; i < a.at(key).data.size(); ++i) r.add(key, a.at(key).data[i], b.at(key).data[i]);
    }
    INFO(r.summary());
    CHECK(r.ok);
  }
}
