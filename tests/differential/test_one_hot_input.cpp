// NetworkSpec::one_hot_input: a one-hot input given as indices. The oracle is the same network given
// the one-hot floats (input_gradient = false), itself checked against the reference interpreter by the
// other differential tests. With indices, layer 0's W x is a gather (exact: the GEMM adds only zero
// terms to the one product w * 1) and its weight gradient a scatter-add over the rows in order (the
// GEMM sums the same terms in another association): outputs, final states and every gradient but the
// gathered weights' are bitwise the dense network's, those within a float rounding of it; on 1, 2 and
// 3 threads the indexed network is bitwise the same. A cell that reads x other than through products
// (x * (V h), stop_gradient x) falls back to expanding the indices: bitwise the dense network.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/input_cells.hpp"
#include "support/jit_harness.hpp"
#include "support/random_cell.hpp"
#include "support/random_floats.hpp"
#include "support/state_buffers.hpp"

using namespace cellforge;
using testing::bitwise_equal;
using testing::random_floats;

namespace {

// W^T x: the gather reads rows of W itself, the gradient outer(x, a) scatters into rows.
const char* kTransposedInputCell = R"(cell transposed_input {
  input %x : [X]
  state %h : [H]
  param %E : [X, H]
  param %U : [H, H]
  %e = matmul_t %E, %x : [H]
  %m = matmul %U, %h : [H]
  %p = add %e, %m : [H]
  %n = tanh %p : [H]
  next h = %n
  output y = %n
}
)";

ir::Graph cell_named(const std::string& name) {
  if (name == "scaled_input") return ir::parse(testing::kScaledInputCell);
  if (name == "transposed_input") return ir::parse(kTransposedInputCell);
  return zoo::find(name).build();
}

struct Run {
  std::vector<float> y, states, dparams;  // states: final states then d_initial states
};

Run run(CompiledNetwork& net, const std::vector<int32_t>& indices, const std::vector<int64_t>& lengths) {
  const auto& s = net.sizes();
  const size_t rows = static_cast<size_t>(s.unroll * s.batch), X = static_cast<size_t>(s.input);
  const std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 1, 0.5f);
  const std::vector<float> dy = random_floats(rows * static_cast<size_t>(net.output_width()), 3, 1.0f);
  std::vector<float> x(rows * X, 0.0f);
  for (size_t r = 0; r < rows; ++r) x[r * X + static_cast<size_t>(indices[r])] = 1.0f;
  const NetworkInput input = net.spec().one_hot_input ? NetworkInput::one_hot(indices) : NetworkInput(x);
  testing::StateBuffers states(net);
  CallOptions call;
  call.lengths = lengths;
  call.dropout_seed = 9;
  Run out;
  out.y.resize(rows * static_cast<size_t>(net.output_width()));
  out.dparams.resize(params.size());
  net.forward(params, input, states.initial_in(), out.y, states.final_out(), call);
  net.backward(params, input, dy, states.d_final_in(), out.dparams, {}, states.d_initial_out());
  out.states = states.written();
  return out;
}

// The largest difference between two gradients relative to the larger's largest magnitude.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::max(std::fabs(double(a[i])), std::fabs(double(b[i]))));
  }
  return worst / scale;
}

std::vector<int32_t> random_indices(size_t n, int64_t X, uint64_t seed) {
  std::vector<int32_t> out(n);
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& i : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    i = static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(X));
  }
  out[0] = 0;  // the first and the last feature
  out[1 % n] = static_cast<int32_t>(X - 1);
  return out;
}

// The products of layer 0's forward scan: GEMMs and one-hot gathers.
std::pair<size_t, size_t> layer0_products(const CompiledNetwork& net) {
  const auto& scan = net.plan().forward.at(0);
  return {scan.products.size(), scan.index_products.size()};
}

// The parameters a forward scan gathers from (layer 0's input weights), by name.
std::set<std::string> gathered_weights(const CompiledNetwork& net) {
  std::set<std::string> names;
  for (const auto& scan : net.plan().forward)
    for (const auto& product : scan.index_products)
      names.insert(net.plan().schedule_of(scan).graph.node(product.other).name);
  return names;
}

}  // namespace

TEST_CASE("differential: a one-hot input given as indices computes what the one-hot floats do") {
  struct Case {
    const char* cell;
    int64_t layers;
    bool bidirectional, lengths;
    double dropout;
    bool gathered;  // false: the cell reads x other than in products; the indices are expanded
  };
  const std::vector<Case> cases = {
      {"lstm", 1, false, false, 0.0, true},           {"lstm", 2, false, false, 0.3, true},
      {"lstm", 2, true, true, 0.0, true},             {"gru", 2, false, true, 0.0, true},
      {"rnn", 1, false, false, 0.0, true},            {"peephole_lstm", 1, false, false, 0.0, true},
      {"layernorm_lstm", 2, false, false, 0.0, true}, {"transposed_input", 2, false, true, 0.0, true},
      {"scaled_input", 2, false, false, 0.2, false},  {"scaled_input", 1, true, true, 0.0, false}};
  for (const Case& c : cases)
    for (bool hoist : {true, false})
      for (int threads : {1, 2}) {
        // 17 rows: the time loop's products split rows (a gather without hoisting runs in it).
        const int64_t B = threads == 1 ? 3 : 17;
        INFO(c.cell << " L=" << c.layers << (c.bidirectional ? " bidirectional" : "") << (c.lengths ? " lengths" : "")
                    << " dropout=" << c.dropout << (hoist ? "" : " no-hoist") << " threads=" << threads << " B=" << B);
        // X = 24 = H: scaled_input needs x as wide as h.
        const ir::NetworkSizes sizes{.input = 24, .hidden = 24, .batch = B, .unroll = 5, .layers = c.layers, .extra = {}};
        ir::NetworkSpec spec = ir::NetworkSpec::stack(cell_named(c.cell), sizes);
        for (auto& layer : spec.layers) layer.bidirectional = c.bidirectional;
        spec.variable_lengths = c.lengths;
        spec.dropout = c.dropout;
        spec.input_gradient = false;
        std::vector<int64_t> lengths;
        for (int64_t r = 0; c.lengths && r < B; ++r) lengths.push_back(r == 0 ? 5 : 1 + (r * 3) % 5);
        NetworkOptions options;
        options.threads = threads;
        options.passes.hoist_time_parallel = hoist;
        CompiledNetwork dense = CompiledNetwork::compile(spec, options);
        spec.one_hot_input = true;
        CompiledNetwork indexed = CompiledNetwork::compile(spec, options);
        const std::vector<int32_t> indices = random_indices(static_cast<size_t>(5 * B), 24, 7);
        const Run expected = run(dense, indices, lengths), actual = run(indexed, indices, lengths);
        CHECK(indexed.plan().input_gathered == c.gathered);
        CHECK(bitwise_equal(actual.y, expected.y));
        CHECK(bitwise_equal(actual.states, expected.states));
        // The input products are gathers now, no GEMMs (or, for a cell that reads x otherwise, none).
        CHECK((layer0_products(indexed).second > 0) == c.gathered);
        if (c.gathered) CHECK(layer0_products(indexed).first < layer0_products(dense).first);
        // Each parameter's gradient: the gathered weights' within float rounding (the scatter adds
        // in another order), every other bit for bit; and none is all zeros.
        const std::set<std::string> gathered = gathered_weights(indexed);
        CHECK(gathered.empty() != c.gathered);
        for (const ParameterInfo& p : indexed.parameters()) {
          INFO("d " << p.name << " of layer " << p.layer << (p.direction ? " (backward)" : ""));
          const auto begin = static_cast<std::ptrdiff_t>(p.offset), end = begin + static_cast<std::ptrdiff_t>(p.size());
          const std::vector<float> a(actual.dparams.begin() + begin, actual.dparams.begin() + end);
          const std::vector<float> e(expected.dparams.begin() + begin, expected.dparams.begin() + end);
          if (p.layer == 0 && gathered.count(p.name)) CHECK(relative_difference(a, e) < 1e-6);
          else CHECK(bitwise_equal(a, e));
          CHECK(std::any_of(a.begin(), a.end(), [](float v) { return v != 0.0f; }));
        }
      }
}

TEST_CASE("differential: the gathered weights' gradient is the per-feature sum of the rows that chose it") {
  // One layer of rnn (h' = tanh(W_ih x + b_ih + W_hh h + b_hh)), X = 5: dW_ih[:, j] = sum over the
  // rows whose index is j of dz. A feature no row chose has a zero column; the others are checked
  // against the dense network within rounding, and a column is not its neighbour's.
  const ir::NetworkSizes sizes{.input = 5, .hidden = 16, .batch = 2, .unroll = 4, .layers = 1, .extra = {}};
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("rnn").build(), sizes);
  spec.input_gradient = false;
  NetworkOptions options;
  options.threads = 2;
  CompiledNetwork dense = CompiledNetwork::compile(spec, options);
  spec.one_hot_input = true;
  CompiledNetwork indexed = CompiledNetwork::compile(spec, options);
  const std::vector<int32_t> indices = {0, 3, 3, 0, 4, 3, 0, 0};  // feature 1 and 2: no row
  const Run expected = run(dense, indices, {}), actual = run(indexed, indices, {});
  const ParameterInfo* w_ih = nullptr;
  for (const ParameterInfo& p : indexed.parameters())
    if (p.name == "W_ih") w_ih = &p;
  REQUIRE(w_ih != nullptr);
  REQUIRE(w_ih->cols == 5);
  for (int64_t i = 0; i < w_ih->rows; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      const float a = actual.dparams[static_cast<size_t>(w_ih->offset + i * 5 + j)];
      const float e = expected.dparams[static_cast<size_t>(w_ih->offset + i * 5 + j)];
      if (j == 1 || j == 2) {
        CHECK(a == 0.0f);
      } else {
        CHECK(std::fabs(a - e) <= 1e-6f * (1.0f + std::fabs(e)));
        CHECK(a != 0.0f);
      }
    }
}

TEST_CASE("differential: a one-hot network gives the same bits on 1, 2 and 3 threads") {
  const ir::NetworkSizes sizes{.input = 37, .hidden = 40, .batch = 7, .unroll = 6, .layers = 2, .extra = {}};
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("lstm").build(), sizes);
  spec.input_gradient = false;
  spec.one_hot_input = true;
  const std::vector<int32_t> indices = random_indices(42, 37, 3);
  std::vector<Run> runs;
  for (int threads : {1, 2, 3}) {
    NetworkOptions options;
    options.threads = threads;
    CompiledNetwork net = CompiledNetwork::compile(spec, options);
    REQUIRE(net.plan().input_gathered);
    runs.push_back(run(net, indices, {}));
  }
  for (size_t k = 1; k < runs.size(); ++k) {
    INFO("threads " << k + 1 << " vs 1");
    CHECK(bitwise_equal(runs[k].y, runs[0].y));
    CHECK(bitwise_equal(runs[k].states, runs[0].states));
    CHECK(bitwise_equal(runs[k].dparams, runs[0].dparams));
  }
}

TEST_CASE("differential: a one-hot network's transposed weights are reused only while the parameters are") {
  // The gather's table (W^T) is built with the weight packing and skipped with it when a call says
  // the parameters are unchanged: evaluation calls reuse it; after new parameters it is rebuilt.
  const ir::NetworkSizes sizes{.input = 30, .hidden = 16, .batch = 4, .unroll = 3, .layers = 1, .extra = {}};
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("gru").build(), sizes);
  spec.input_gradient = false;
  spec.one_hot_input = true;
  NetworkOptions options;
  options.threads = 2;
  options.strict = true;  // also checks the parameters_unchanged claim
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  const std::vector<int32_t> indices = random_indices(12, 30, 11);
  std::vector<float> params = random_floats(static_cast<size_t>(net.parameter_floats()), 1, 0.5f);
  std::vector<float> h0(static_cast<size_t>(net.state_floats(0)), 0.0f), hT(h0.size()), y(12 * 16);
  auto forward = [&](bool unchanged) {
    CallOptions call;
    call.training = false;
    call.parameters_unchanged = unchanged;
    net.forward(params, NetworkInput::one_hot(indices), {h0}, y, {hT}, call);
    return y;
  };
  const std::vector<float> first = forward(false);
  CHECK(bitwise_equal(forward(true), first));
  CHECK(bitwise_equal(forward(true), first));
  // New parameters: a call that packs anew sees them; a fresh network agrees.
  params = random_floats(params.size(), 2, 0.5f);
  const std::vector<float> second = forward(false);
  CHECK_FALSE(bitwise_equal(second, first));
  CHECK(bitwise_equal(forward(true), second));
  CompiledNetwork fresh = CompiledNetwork::compile(spec, options);
  CallOptions eval;
  eval.training = false;
  std::vector<float> y_fresh(y.size());
  fresh.forward(params, NetworkInput::one_hot(indices), {h0}, y_fresh, {hT}, eval);
  CHECK(bitwise_equal(y_fresh, second));
}

TEST_CASE("differential: a one-hot network refuses floats, bad indices and an input gradient") {
  const ir::NetworkSizes sizes{.input = 4, .hidden = 3, .batch = 2, .unroll = 2, .layers = 1, .extra = {}};
  ir::NetworkSpec spec = ir::NetworkSpec::stack(zoo::find("rnn").build(), sizes);
  spec.one_hot_input = true;
  CHECK_THROWS_WITH(CompiledNetwork::compile(spec), Catch::Contains("one_hot_input is set and so is input_gradient") &&
                                                        Catch::Contains("set input_gradient = false"));
  spec.input_gradient = false;
  NetworkOptions options;
  options.threads = 1;
  CompiledNetwork net = CompiledNetwork::compile(spec, options);
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()), 0.1f), x(16, 0.0f), y(12), h0(6), hT(6);
  CHECK_THROWS_WITH(net.forward(params, x, {h0}, y, {hT}),
                    Catch::Contains("x is given as 16 floats, but the network was compiled with one_hot_input") &&
                        Catch::Contains("NetworkInput::one_hot"));
  const std::vector<int32_t> too_few = {0, 1, 2};
  CHECK_THROWS_WITH(net.forward(params, NetworkInput::one_hot(too_few), {h0}, y, {hT}),
                    Catch::Contains("x has 3 one-hot indices; expected 4 = [T=2][B=2]"));
  const std::vector<int32_t> out_of_range = {0, 1, 4, 2};
  CHECK_THROWS_WITH(net.forward(params, NetworkInput::one_hot(out_of_range), {h0}, y, {hT}),
                    Catch::Contains("x's one-hot index 4 at step 1, sequence 0 is outside [0, 4)"));
  const std::vector<int32_t> negative = {0, -1, 3, 2};
  CHECK_THROWS_WITH(net.forward(params, NetworkInput::one_hot(negative), {h0}, y, {hT}),
                    Catch::Contains("x's one-hot index -1 at step 0, sequence 1"));
  std::vector<float> dy(12, 1.0f), dparams(params.size()), dhT(6), dh0(6);
  const std::vector<int32_t> good = {0, 1, 3, 2};
  CHECK_NOTHROW(net.forward(params, NetworkInput::one_hot(good), {h0}, y, {hT}));
  CHECK_NOTHROW(net.backward(params, NetworkInput::one_hot(good), dy, {dhT}, dparams, {}, {dh0}));

  // Indices given to a network compiled for floats.
  ir::NetworkSpec dense_spec = ir::NetworkSpec::stack(zoo::find("rnn").build(), sizes);
  CompiledNetwork dense = CompiledNetwork::compile(dense_spec, options);
  CHECK_THROWS_WITH(dense.forward(params, NetworkInput::one_hot(good), {h0}, y, {hT}),
                    Catch::Contains("x is given as 4 one-hot indices, but the network was compiled for 4 input floats") &&
                        Catch::Contains("one_hot_input = true"));
}

TEST_CASE("differential: random cells with a one-hot input given as indices, vs reference") {
  // Random cells read x in every way (products, elementwise, slices, reductions): those whose input
  // feeds only products gather, the others expand the indices; both against the reference
  // interpreter given the one-hot rows.
  int gathered = 0, expanded = 0;
  for (uint64_t seed = 5000; seed < 5060; ++seed) {
    ir::Graph cell = testing::random_cell(seed);
    std::mt19937_64 rng(seed * 7919);
    const ir::NetworkSizes sizes{.input = 11, .hidden = 9, .batch = 1 + static_cast<int64_t>(rng() % 4),
                                 .unroll = 1 + static_cast<int64_t>(rng() % 6), .layers = 1 + static_cast<int64_t>(rng() % 2),
                                 .extra = {}};
    ir::NetworkSpec spec = ir::NetworkSpec::stack(cell, sizes);
    spec.input_gradient = false;
    spec.one_hot_input = true;
    testing::HarnessOptions options;
    options.seed = seed;
    options.threads = 1 + static_cast<int>(rng() % 2);
    INFO("random cell seed " << seed << " T=" << sizes.unroll << " L=" << sizes.layers << " B=" << sizes.batch
                             << " threads=" << options.threads << "\n" << ir::print(cell));
    const testing::Comparison c = testing::compare_with_reference(spec, options);
    INFO("worst " << c.worst.relative << " in " << c.worst.where);
    CHECK_FALSE(c.worst.nonfinite_mismatch);
    CHECK(c.worst.relative < 1e-4);
    NetworkOptions network_options;
    network_options.threads = 1;
    (CompiledNetwork::compile(spec, network_options).plan().input_gathered ? gathered : expanded)++;
  }
  INFO(gathered << " gathered, " << expanded << " expanded");
  CHECK(gathered > 5);
  CHECK(expanded > 5);
}
