// Lesson 04: networks beyond one layer of one cell.
//
// A layer of a cellforge network is any cell, run forward in time or both ways. Here:
//
//   layer 0  a bidirectional LSTM: a second LSTM with its own weights reads the sequence from the
//            end, and the layer's output is both outputs side by side (2H features)
//   layer 1  a GRU reading those 2H features
//
// with sequences of different lengths in one batch (no packing: each sequence's steps after its
// length are padding, which changes no state and outputs zeros), dropout between the layers, and
// zoneout (while training, each element of the LSTM's c and of both layers' h keeps its previous
// value with probability z; evaluation blends by z). The compiler handles padding, dropout and
// zoneout by rewriting each layer's cell (`cellforge inspect --cell gru --variable-lengths --dropout
// --zoneout h` shows the rewritten cell), so backpropagation through time gets their gradients from
// the same symbolic differentiation as everything else.
#include <cstdio>
#include <random>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

int main() {
  ir::NetworkSpec spec;
  spec.sizes = {.input = 6, .hidden = 16, .batch = 3, .unroll = 7, .layers = 2, .extra = {}};
  spec.layers = {{zoo::find("lstm").build(), /*bidirectional=*/true}, {zoo::find("gru").build(), false}};
  spec.variable_lengths = true;
  spec.dropout = 0.2;
  spec.zoneout = {{"c", 0.3}, {"h", 0.1}};  // every layer whose cell has the state
  CompiledNetwork net = CompiledNetwork::compile(spec);

  // Units are (layer, direction) pairs; parameters and states are listed unit by unit.
  std::printf("units:");
  for (const ir::Unit& u : net.units()) std::printf(" (layer %lld, %s)", (long long)u.layer, u.direction ? "backward" : "forward");
  std::printf("\nparameters: %zu tensors, %lld floats; output width %lld (the GRU's H)\n", net.parameters().size(),
              (long long)net.parameter_floats(), (long long)net.output_width());
  std::printf("states:");
  for (size_t k = 0; k < net.state_names().size(); ++k)
    std::printf(" %s (%lld floats)", net.state_names()[k].c_str(), (long long)net.state_floats(k));
  std::printf("\n");

  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  std::vector<float> params(net.parameter_floats());
  for (float& p : params) p = u(rng);
  std::vector<float> x(7 * 3 * 6), y(7 * 3 * net.output_width()), dy(y.size(), 0.0f), dx(x.size()), dparams(params.size());
  for (float& e : x) e = u(rng) * 3;
  std::vector<std::vector<float>> s0, sT, ds, d0;
  for (size_t k = 0; k < net.state_names().size(); ++k) {
    s0.emplace_back(net.state_floats(k), 0.0f);
    sT.push_back(s0.back());
    ds.push_back(s0.back());
    d0.push_back(s0.back());
  }
  // Three sequences of lengths 7, 3 and 5 in one batch; the loss reads each one's last real step.
  const std::vector<int64_t> lengths = {7, 3, 5};
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < net.output_width(); ++j) dy[((lengths[r] - 1) * 3 + r) * net.output_width() + j] = 1.0f;
  CallOptions call;
  call.lengths = lengths;
  call.dropout_seed = 42;
  net.forward(params, x, {s0.begin(), s0.end()}, y, {sT.begin(), sT.end()}, call);
  net.backward(params, x, dy, {ds.begin(), ds.end()}, dparams, dx, {d0.begin(), d0.end()});

  // Padding outputs zeros and receives no gradient.
  bool padding_is_zero = true;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t t = lengths[r]; t < 7; ++t)
      for (int64_t j = 0; j < net.output_width(); ++j) padding_is_zero = padding_is_zero && y[(t * 3 + r) * net.output_width() + j] == 0;
  double padded_dx = 0, real_dx = 0;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t t = 0; t < 7; ++t)
      for (int64_t j = 0; j < 6; ++j) (t < lengths[r] ? real_dx : padded_dx) += std::fabs(dx[(t * 3 + r) * 6 + j]);
  std::printf("padded steps output zeros: %s; |dL/dx| on real steps %.4f, on padding %.4f\n",
              padding_is_zero ? "yes" : "NO", real_dx, padded_dx);

  // Training calls draw dropout and zoneout masks from their seed; an evaluation call draws none
  // (no dropout, each zoned state blended by its rate), so it gives the same output every time.
  auto output = [&](bool training, uint64_t seed) {
    CallOptions c = call;
    c.training = training;
    c.dropout_seed = seed;
    net.forward(params, x, {s0.begin(), s0.end()}, y, {sT.begin(), sT.end()}, c);
    return y;
  };
  const bool seeds_differ = output(true, 1) != output(true, 2), evaluation_repeats = output(false, 1) == output(false, 2);
  std::printf("training outputs differ with the seed: %s; evaluation outputs repeat: %s\n", seeds_differ ? "yes" : "NO",
              evaluation_repeats ? "yes" : "NO");
  return padding_is_zero && padded_dx == 0 && real_dx > 0 && seeds_differ && evaluation_repeats ? 0 : 1;
}
