// Weight drop (NetworkSpec::weight_drop, DropConnect): a training call of a network that drops
// W_hh must be exactly the same network without weight drop called with W_hh * mask, and its
// gradient of W_hh that network's times the mask — bit for bit, with the mask spelled out here
// from the documented formula (dropout stream kWeightDropStreams + k of the call's seed, k counting
// dropped parameters in parameter order). Evaluation calls use the parameters as they are, and
// weights packed by a training call are never reused for an evaluation call.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "codegen/jit/compiled_network.hpp"
#include "codegen/jit/dropout_mask.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

struct Buffers {
  std::vector<float> params, x, y, dy, dparams, dx;
  std::vector<std::vector<float>> s0, sT, dsT, ds0;
};

Buffers make_buffers(const CompiledNetwork& net, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  Buffers b;
  b.params.resize(static_cast<size_t>(net.parameter_floats()));
  for (float& v : b.params) v = u(rng);
  const auto& s = net.sizes();
  b.x.resize(static_cast<size_t>(s.unroll * s.batch * net.input_width()));
  b.y.resize(static_cast<size_t>(s.unroll * s.batch * net.output_width()));
  b.dy.resize(b.y.size());
  b.dx.resize(b.x.size());
  b.dparams.resize(b.params.size());
  for (float& v : b.x) v = u(rng);
  for (float& v : b.dy) v = u(rng);
  for (size_t k = 0; k < net.state_names().size(); ++k) {
    b.s0.emplace_back(static_cast<size_t>(net.state_floats(k)));
    for (float& v : b.s0.back()) v = u(rng);
    b.dsT.push_back(b.s0.back());
    b.sT.emplace_back(b.s0.back().size());
    b.ds0.emplace_back(b.s0.back().size());
  }
  return b;
}

// One forward and backward call with `params`; returns y, dx, dparams and the final and initial-state
// gradients in one vector for comparison.
std::vector<float> run(CompiledNetwork& net, Buffers b, const std::vector<float>& params, const CallOptions& call) {
  net.forward(params, b.x, {b.s0.begin(), b.s0.end()}, b.y, {b.sT.begin(), b.sT.end()}, call);
  net.backward(params, b.x, b.dy, {b.dsT.begin(), b.dsT.end()}, b.dparams, b.dx, {b.ds0.begin(), b.ds0.end()});
  std::vector<float> out = b.y;
  out.insert(out.end(), b.dx.begin(), b.dx.end());
  for (const auto& v : b.sT) out.insert(out.end(), v.begin(), v.end());
  for (const auto& v : b.ds0) out.insert(out.end(), v.begin(), v.end());
  out.insert(out.end(), b.dparams.begin(), b.dparams.end());
  return out;
}

void check_weight_drop(ir::NetworkSpec spec, const std::map<std::string, double>& drop, int threads) {
  NetworkOptions options;
  options.threads = threads;
  CompiledNetwork plain = CompiledNetwork::compile(spec, options);
  spec.weight_drop = drop;
  CompiledNetwork dropped = CompiledNetwork::compile(spec, options);
  const Buffers b = make_buffers(plain, 7);
  const uint64_t seed = 1234;

  // The mask, spelled out: 0 (probability p) or 1/(1-p) per element, region by region.
  std::vector<float> mask(b.params.size(), 1.0f);
  uint64_t k = 0;
  size_t zeros = 0, elements = 0;
  for (const ParameterInfo& p : plain.parameters()) {
    auto it = drop.find(p.name);
    if (it == drop.end() || it->second == 0) continue;
    for (int64_t i = 0; i < p.size(); ++i) {
      const bool zero = jit::dropout_drops(seed, kWeightDropStreams + k, static_cast<uint64_t>(i), it->second);
      mask[static_cast<size_t>(p.offset + i)] = zero ? 0.0f : static_cast<float>(1.0 / (1.0 - it->second));
      zeros += zero;
      ++elements;
    }
    ++k;
  }
  REQUIRE(elements > 0);
  CHECK(zeros > 0);
  CHECK(zeros < elements);
  std::vector<float> masked = b.params;
  for (size_t i = 0; i < masked.size(); ++i) masked[i] *= mask[i];

  CallOptions training;
  training.dropout_seed = seed;
  std::vector<float> expected = run(plain, b, masked, training);
  const size_t grads = expected.size() - b.params.size();
  for (size_t i = 0; i < b.params.size(); ++i) expected[grads + i] *= mask[i];
  CHECK(run(dropped, b, b.params, training) == expected);  // bitwise

  // Evaluation: the parameters as they are; packed weights of the training call are not reused.
  CallOptions evaluation;
  evaluation.training = false;
  evaluation.parameters_unchanged = true;
  const std::vector<float> plain_eval = run(plain, b, b.params, {.lengths = {}, .training = false});
  CHECK(run(dropped, b, b.params, evaluation) == plain_eval);
  // And a training call after an evaluation call draws the masks again.
  training.parameters_unchanged = true;
  CHECK(run(dropped, b, b.params, training) == expected);
}

ir::NetworkSpec stack(const char* cell, int64_t H, int64_t B, int64_t layers, bool bidirectional);

}  // namespace

TEST_CASE("weight drop: a call refused for its arguments changes nothing; the next evaluation uses the plain weights") {
  // A training call packs masked weights; an evaluation call with bad lengths is refused before it
  // changes anything, so the next evaluation (claiming unchanged parameters) cannot reuse them.
  ir::NetworkSpec spec = stack("gru", 64, 32, 1, false);
  spec.variable_lengths = true;
  CompiledNetwork plain = CompiledNetwork::compile(spec);
  spec.weight_drop = {{"W_hh", 0.5}};
  CompiledNetwork dropped = CompiledNetwork::compile(spec);
  Buffers b = make_buffers(plain, 3);
  const std::vector<int64_t> lengths(32, 5), bad(32, 9);
  auto forward = [&](CompiledNetwork& net, const CallOptions& call) {
    net.forward(b.params, b.x, {b.s0.begin(), b.s0.end()}, b.y, {b.sT.begin(), b.sT.end()}, call);
    return b.y;
  };
  forward(dropped, {.lengths = lengths, .training = true, .dropout_seed = 1});
  CHECK_THROWS_WITH(forward(dropped, {.lengths = bad, .training = false}),
                    "sequence 0 has length 9; lengths must be in [1, 5]");
  // The training call still stands: backward() follows it.
  CHECK_NOTHROW(dropped.backward(b.params, b.x, b.dy, {b.dsT.begin(), b.dsT.end()}, b.dparams, b.dx,
                                 {b.ds0.begin(), b.ds0.end()}));
  const std::vector<float> expected = forward(plain, {.lengths = lengths, .training = false});
  CHECK(forward(dropped, {.lengths = lengths, .training = false, .parameters_unchanged = true}) == expected);
}

namespace {

ir::NetworkSpec stack(const char* cell, int64_t H, int64_t B, int64_t layers, bool bidirectional) {
  ir::NetworkSpec spec;
  spec.sizes = {.input = 7, .hidden = H, .batch = B, .unroll = 5, .layers = layers, .extra = {}};
  for (int64_t l = 0; l < layers; ++l) spec.layers.push_back({zoo::find(cell).build(), bidirectional});
  return spec;
}

}  // namespace

TEST_CASE("weight drop: a training call is the plain network on masked weights, its gradient masked, bit for bit") {
  check_weight_drop(stack("lstm", 13, 3, 2, false), {{"W_hh", 0.5}}, 1);
  check_weight_drop(stack("lstm", 13, 3, 2, true), {{"W_hh", 0.3}, {"b_ih", 0.2}}, 2);
  check_weight_drop(stack("gru", 64, 32, 1, false), {{"W_hh", 0.5}, {"W_ih", 0.1}}, 2);  // GEMM-sized, packed weights
  check_weight_drop(stack("gru", 64, 32, 1, false), {{"W_hh", 0.5}}, 3);
}
