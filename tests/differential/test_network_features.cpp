// The JIT against the reference interpreter on the network features beyond a plain stack:
// bidirectional layers, sequences of different lengths in one batch, dropout between layers, and
// stacks of different cells. The reference implements each feature directly, step by step and row
// by row; the compiler implements it by transforming the layers' cells (mask_padded_steps,
// drop_layer_input) and by reversed scans, so agreement checks the transformations too.
#include <catch2/catch.hpp>

#include <algorithm>

#include "codegen/ir/network_spec.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

ir::NetworkSpec spec_of(const std::vector<std::string>& cells, bool bidirectional, int64_t T, int64_t B) {
  ir::NetworkSpec spec;
  spec.sizes.input = 5;
  spec.sizes.hidden = 13;
  spec.sizes.batch = B;
  spec.sizes.unroll = T;
  spec.sizes.layers = static_cast<int64_t>(cells.size());
  for (const std::string& name : cells) spec.layers.push_back({zoo::find(name).build(), bidirectional});
  return spec;
}

void check(const ir::NetworkSpec& spec, uint64_t seed, int threads = 1) {
  testing::HarnessOptions options;
  options.seed = seed;
  options.threads = threads;
  testing::Comparison c = testing::compare_with_reference(spec, options);
  std::string cells;
  for (const auto& l : spec.layers) cells += l.cell.name() + (l.bidirectional ? "(bi) " : " ");
  INFO(cells << "T=" << spec.sizes.unroll << " B=" << spec.sizes.batch << " lengths=" << spec.variable_lengths
             << " dropout=" << spec.dropout << " seed=" << seed << ": worst " << c.worst.relative << " in "
             << c.worst.where);
  CHECK_FALSE(c.worst.nonfinite_mismatch);
  CHECK(c.worst.relative < 1e-4);
}

}  // namespace

TEST_CASE("differential: bidirectional layers") {
  uint64_t seed = 500;
  for (const char* cell : {"rnn", "lstm", "gru"})
    for (int64_t layers : {1, 2})
      for (int64_t T : {1, 5})
        for (int64_t B : {1, 3}) check(spec_of(std::vector<std::string>(static_cast<size_t>(layers), cell), true, T, B), ++seed);
  check(spec_of({"lstm", "lstm"}, true, 4, 3), 599, 2);
}

TEST_CASE("differential: sequences of different lengths") {
  uint64_t seed = 600;
  for (const char* cell : {"rnn", "lstm", "gru", "gru_classic"})
    for (bool bidirectional : {false, true})
      for (int64_t B : {1, 4}) {
        ir::NetworkSpec spec = spec_of({cell, cell}, bidirectional, 6, B);
        spec.variable_lengths = true;
        check(spec, ++seed);
      }
}

TEST_CASE("differential: dropout between layers") {
  uint64_t seed = 700;
  for (const char* cell : {"lstm", "gru"})
    for (bool bidirectional : {false, true}) {
      ir::NetworkSpec spec = spec_of({cell, cell, cell}, bidirectional, 4, 3);
      spec.dropout = 0.3;
      check(spec, ++seed);
      spec.variable_lengths = true;
      check(spec, ++seed, 2);
    }
}

TEST_CASE("differential: dropout with one mask per sequence (variational)") {
  uint64_t seed = 750;
  for (const char* cell : {"lstm", "gru"})
    for (bool bidirectional : {false, true}) {
      ir::NetworkSpec spec = spec_of({cell, cell, cell}, bidirectional, 4, 3);
      spec.dropout = 0.3;
      spec.dropout_per_sequence = true;
      check(spec, ++seed, bidirectional ? 2 : 1);
    }
  // The masks the network drew: every step the same, and not all kept.
  ir::NetworkSpec spec = spec_of({"lstm", "lstm"}, false, 6, 4);
  spec.dropout = 0.5;
  spec.dropout_per_sequence = true;
  CompiledNetwork net = CompiledNetwork::compile(spec);
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.1f), x(6 * 4 * 5, 0.3f), y(6 * 4 * 13);
  std::vector<std::vector<float>> s0(2, std::vector<float>(2 * 4 * 13, 0.0f)), sT = s0;
  net.forward(params, x, {s0[0], s0[1]}, y, {sT[0], sT[1]}, {.lengths = {}, .training = true, .dropout_seed = 5});
  const auto& where = net.plan().dropout_masks[1];
  const auto ws = net.workspace();
  const auto step = [&](int64_t t) {
    return std::vector<float>(ws.begin() + where.offset + t * where.step_stride,
                              ws.begin() + where.offset + t * where.step_stride + 4 * 13);
  };
  const std::vector<float> first = step(0);
  CHECK(std::count(first.begin(), first.end(), 0.0f) > 0);
  for (int64_t t = 1; t < 6; ++t) CHECK(step(t) == first);
}

TEST_CASE("differential: stacks of different cells") {
  check(spec_of({"lstm", "gru", "rnn"}, false, 5, 3), 801);
  check(spec_of({"gru", "lstm"}, true, 5, 2), 802);
  ir::NetworkSpec spec = spec_of({"rnn_relu", "lstm", "gru_classic"}, false, 7, 3);
  spec.variable_lengths = true;
  spec.dropout = 0.25;
  check(spec, 803, 2);
}
