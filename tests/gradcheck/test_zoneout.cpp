// The reference network's zoneout (its hand-written blend of each zoned state and the split of its
// gradient between the cell and the previous step) against central differences, with the masks
// held fixed: random 0/1 masks as in training, and fractional ones (the rate) as in evaluation.
// The differential tests check the compiled network against this reference.
#include <catch2/catch.hpp>

#include <random>

#include "codegen/autodiff/differentiate.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/network_gradcheck.hpp"

using namespace cellforge;

namespace {

// Masks for every zoned state of every layer (one unit per layer: the stacks here run forward
// only): 1 with probability z, or z itself when `expected`.
ir::CallExtras zoneout_masks(const ir::NetworkSpec& spec, bool expected, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(0.5);
  ir::CallExtras extras;
  extras.zoneout_masks.resize(static_cast<size_t>(spec.sizes.layers));
  for (int64_t l = 0; l < spec.sizes.layers; ++l) {
    const ir::Graph& cell = spec.layers[static_cast<size_t>(l)].cell;
    for (const std::string& name : spec.zoned_states(l)) {
      const int64_t width = cell.type(static_cast<ir::NodeId>(cell.find_leaf(ir::Op::state, name))).rows.bind(ir::layer_bindings(spec, l));
      const double z = spec.zoneout.at(name);
      std::bernoulli_distribution keep(z);
      for (int64_t t = 0; t < spec.sizes.unroll; ++t) {
        ir::Array m(spec.sizes.batch, width);
        for (double& v : m.data) v = expected ? z : keep(rng) ? 1.0 : 0.0;
        extras.zoneout_masks[static_cast<size_t>(l)][name].push_back(m);
      }
    }
  }
  return extras;
}

}  // namespace

TEST_CASE("gradcheck: BPTT through zoned states, against central differences") {
  const std::vector<std::pair<const char*, std::map<std::string, double>>> cases = {
      {"lstm", {{"c", 0.5}, {"h", 0.3}}}, {"lstm", {{"c", 0.5}}}, {"gru", {{"h", 0.4}}}, {"sru", {{"c", 0.5}}}};
  uint64_t seed = 70;
  for (const auto& [name, zoneout] : cases)
    for (bool expected : {false, true}) {
      const ir::Graph cell = zoo::find(name).build();
      const ir::NetworkSizes sizes{.input = 3, .hidden = 4, .batch = 2, .unroll = 4, .layers = 2, .extra = {}};
      ir::NetworkSpec spec = ir::NetworkSpec::stack(cell, sizes);
      spec.zoneout = zoneout;
      const ir::ReferenceNetwork net(spec, std::vector<ir::Graph>(2, autodiff::differentiate(cell)));
      const testing::Comparison r =
          testing::check_network_bptt(net, testing::random_network_problem(cell, sizes, ++seed), zoneout_masks(spec, expected, seed));
      INFO(name << (expected ? " with the expected masks" : " with 0/1 masks") << ": " << r.summary());
      CHECK(r.ok);
      CHECK(r.largest > 0.01);  // the gradients are not all (near) zero: the check has teeth
    }
}
