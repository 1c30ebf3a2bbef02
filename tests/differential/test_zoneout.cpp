// Zoneout (NetworkSpec::zoneout) in the compiled network against the reference network, which
// blends each zoned state row by row and sends its gradient both ways by hand, while the compiler
// rewrites the cell (passes::zone_out_states) and differentiates the result. Training calls draw
// random masks; evaluation calls blend by the rate. Cells whose output is the zoned state (LSTM's
// h, GRU's h) and whose output is not (SRU's state c), stacked, bidirectional, with padding and
// dropout, on one and two threads.
#include <catch2/catch.hpp>

#include <cmath>

#include "codegen/ir/network_spec.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

ir::NetworkSpec spec_of(const std::vector<std::string>& cells, bool bidirectional, std::map<std::string, double> zoneout,
                        int64_t T = 5, int64_t B = 3) {
  ir::NetworkSpec spec;
  spec.sizes = {.input = 5, .hidden = 13, .batch = B, .unroll = T, .layers = static_cast<int64_t>(cells.size()), .extra = {}};
  for (const std::string& name : cells) spec.layers.push_back({zoo::find(name).build(), bidirectional});
  spec.zoneout = std::move(zoneout);
  return spec;
}

void check(const ir::NetworkSpec& spec, uint64_t seed, int threads = 1, bool training = true) {
  testing::HarnessOptions options;
  options.seed = seed;
  options.threads = threads;
  options.training = training;
  testing::Comparison c = testing::compare_with_reference(spec, options);
  std::string cells, zoneout;
  for (const auto& l : spec.layers) cells += l.cell.name() + (l.bidirectional ? "(bi) " : " ");
  for (const auto& [name, z] : spec.zoneout) zoneout += name + "=" + std::to_string(z) + " ";
  INFO(cells << "zoneout " << zoneout << "T=" << spec.sizes.unroll << " B=" << spec.sizes.batch
             << " lengths=" << spec.variable_lengths << " dropout=" << spec.dropout << " training=" << training
             << " threads=" << threads << " seed=" << seed << ": worst " << c.worst.relative << " in " << c.worst.where
             << "\n" << verify::comparison_table(c));
  CHECK_FALSE(c.worst.nonfinite_mismatch);
  CHECK(c.worst.relative < 1e-4);
}

}  // namespace

TEST_CASE("differential: zoneout on the states of zoo cells, training and evaluation") {
  uint64_t seed = 900;
  const std::vector<std::pair<const char*, std::map<std::string, double>>> cases = {
      {"lstm", {{"c", 0.5}, {"h", 0.3}}},  // h is the output: the output is zoned too
      {"lstm", {{"c", 0.4}}},              // only c: the output is h, not zoned
      {"gru", {{"h", 0.35}}},
      {"sru", {{"c", 0.5}}},               // the output h is not the state c
      {"janet", {{"h", 0.2}}},
      {"peephole_lstm", {{"c", 0.3}, {"h", 0.3}}},
      {"layernorm_lstm", {{"h", 0.25}}},
  };
  for (const auto& [cell, zoneout] : cases)
    for (bool training : {true, false}) check(spec_of({cell}, false, zoneout), ++seed, 1, training);
}

TEST_CASE("differential: zoneout in stacked and bidirectional layers, with padding and dropout") {
  uint64_t seed = 950;
  for (const char* cell : {"lstm", "gru"})
    for (bool bidirectional : {false, true}) {
      ir::NetworkSpec spec = spec_of({cell, cell}, bidirectional, {{"h", 0.3}, {"c", 0.5}});
      if (std::string(cell) == "gru") spec.zoneout.erase("c");
      check(spec, ++seed);
      spec.variable_lengths = true;
      spec.dropout = 0.3;
      check(spec, ++seed, 2);
      check(spec, ++seed, 2, false);
    }
  // Layers of different cells: zoneout applies to each layer whose cell has the state.
  ir::NetworkSpec mixed = spec_of({"lstm", "gru", "sru"}, false, {{"c", 0.5}, {"h", 0.1}});
  check(mixed, 990);
  check(mixed, 991, 2);
}

TEST_CASE("zoneout: training masks are 0 or 1 with the rate's share of ones; evaluation fills the rate") {
  ir::NetworkSpec spec = spec_of({"lstm"}, false, {{"c", 0.25}}, 20, 16);
  spec.sizes.hidden = 64;
  NetworkOptions options;
  options.threads = 2;
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  const auto& plan = net.plan();
  REQUIRE(plan.zoneout_masks.size() == 1);
  const std::vector<std::string> names = net.state_names();
  const size_t c = static_cast<size_t>(std::find(names.begin(), names.end(), "c") - names.begin());
  const size_t h = 1 - c;
  REQUIRE(plan.zoneout_masks[0][c].valid());
  CHECK_FALSE(plan.zoneout_masks[0][h].valid());
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.01f), x(20 * 16 * 5, 0.5f), y(20 * 16 * 64);
  std::vector<std::vector<float>> states(2, std::vector<float>(16 * 64, 0.0f)), finals = states;
  auto masks = [&](bool training, uint64_t seed) {
    net.forward(params, x, {states[0], states[1]}, y, {finals[0], finals[1]}, {.training = training, .dropout_seed = seed});
    const auto& where = plan.zoneout_masks[0][c];
    const auto ws = net.workspace();
    return std::vector<float>(ws.begin() + where.offset, ws.begin() + where.offset + 20 * 16 * 64);
  };
  const std::vector<float> a = masks(true, 1), b = masks(true, 2);
  size_t ones = 0, zeros = 0;
  for (float v : a) {
    ones += v == 1.0f;
    zeros += v == 0.0f;
  }
  REQUIRE(ones + zeros == a.size());
  const double n = static_cast<double>(a.size()), share = static_cast<double>(ones) / n;
  CHECK(std::fabs(share - 0.25) < 6 * std::sqrt(0.25 * 0.75 / n));
  CHECK(a != b);                     // another seed, other masks
  CHECK(masks(true, 1) == a);        // the same seed, the same masks
  for (float v : masks(false, 1)) REQUIRE(v == 0.25f);
}

TEST_CASE("zoneout: a rate of 0 compiles the network without zoneout") {
  ir::NetworkSpec with = spec_of({"lstm"}, false, {{"c", 0.0}, {"h", 0.0}});
  CompiledNetwork net = CompiledNetwork::compile(with);
  for (const auto& unit : net.plan().zoneout_masks)
    for (const auto& where : unit) CHECK_FALSE(where.valid());
  CHECK(with.zoned_states(0).empty());
}
