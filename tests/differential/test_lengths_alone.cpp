// Sequences of different lengths in one batch give what each sequence gives alone: outputs on its
// steps (zeros after), its final states, its input gradients, and parameter gradients that add up
// over the sequences. Both sides are compiled networks (the batch with variable lengths, each
// sequence as a batch of one unrolled for its own length), so this checks the padding semantics
// end to end without the reference interpreter. Tolerance 1e-5 of each tensor's largest magnitude:
// the same float32 arithmetic, summed in a different order only in the parameter gradients.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

double relative(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 1, worst = 0;
  for (float v : b) scale = std::max(scale, static_cast<double>(std::fabs(v)));
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]) / scale);
  }
  return worst;
}

void check_alone(const std::string& cell_name, bool bidirectional) {
  const int64_t T = 5, B = 3, X = 4, H = 6, L = 2;
  const std::vector<int64_t> lengths = {5, 2, 4};
  ir::NetworkSpec batch_spec;
  batch_spec.sizes = {X, H, B, T, L, {}};
  for (int64_t l = 0; l < L; ++l) batch_spec.layers.push_back({zoo::find(cell_name).build(), bidirectional});
  batch_spec.variable_lengths = true;
  NetworkOptions options;
  options.threads = 1;
  CompiledNetwork batch = CompiledNetwork::compile(batch_spec, options);

  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> params(static_cast<size_t>(batch.parameter_floats()));
  for (float& v : params) v = u(rng);
  const int64_t Y = batch.output_width();
  std::vector<float> x(static_cast<size_t>(T * B * X)), dy(static_cast<size_t>(T * B * Y));
  for (float& v : x) v = u(rng);
  for (float& v : dy) v = u(rng);
  const size_t S = batch.state_names().size();
  const size_t U = batch.units().size();
  std::vector<std::vector<float>> h0(S), dT(S), hT(S), d0(S);
  for (size_t k = 0; k < S; ++k) {
    h0[k].resize(static_cast<size_t>(batch.state_floats(k)));
    dT[k].resize(h0[k].size());
    for (float& v : h0[k]) v = u(rng);
    for (float& v : dT[k]) v = u(rng);
    hT[k].assign(h0[k].size(), 0);
    d0[k].assign(h0[k].size(), 0);
  }
  auto spans = [](auto& v) { return std::vector<std::span<std::remove_reference_t<decltype(v[0][0])>>>(v.begin(), v.end()); };
  auto cspans = [](const std::vector<std::vector<float>>& v) { return std::vector<std::span<const float>>(v.begin(), v.end()); };
  std::vector<float> y(static_cast<size_t>(T * B * Y)), dparams(params.size()), dx(x.size());
  CallOptions call;
  call.lengths = lengths;
  batch.forward(params, x, cspans(h0), y, spans(hT), call);
  batch.backward(params, x, dy, cspans(dT), dparams, dx, spans(d0));

  std::vector<float> dparams_sum(params.size(), 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t Tb = lengths[static_cast<size_t>(b)];
    ir::NetworkSpec one = batch_spec;
    one.variable_lengths = false;
    one.sizes.batch = 1;
    one.sizes.unroll = Tb;
    CompiledNetwork alone = CompiledNetwork::compile(one, options);
    // Row b of every [T][B][w] buffer, over the sequence's own steps; row b of every state unit.
    auto rows = [&](const std::vector<float>& full, int64_t width, int64_t steps) {
      std::vector<float> out;
      for (int64_t t = 0; t < steps; ++t)
        out.insert(out.end(), full.begin() + (t * B + b) * width, full.begin() + (t * B + b + 1) * width);
      return out;
    };
    auto state_rows = [&](const std::vector<float>& full, size_t k) {
      std::vector<float> out;
      int64_t offset = 0;
      for (size_t unit = 0; unit < U; ++unit) {
        const int64_t w = batch.state_width(k, unit);
        out.insert(out.end(), full.begin() + offset + b * w, full.begin() + offset + (b + 1) * w);
        offset += B * w;
      }
      return out;
    };
    std::vector<float> xb = rows(x, X, Tb), dyb = rows(dy, Y, Tb), yb(xb.size() / X * Y), dxb(xb.size());
    std::vector<std::vector<float>> h0b(S), dTb(S), hTb(S), d0b(S);
    for (size_t k = 0; k < S; ++k) {
      h0b[k] = state_rows(h0[k], k);
      dTb[k] = state_rows(dT[k], k);
      hTb[k].assign(h0b[k].size(), 0);
      d0b[k].assign(h0b[k].size(), 0);
    }
    std::vector<float> dpb(params.size());
    alone.forward(params, xb, cspans(h0b), yb, spans(hTb));
    alone.backward(params, xb, dyb, cspans(dTb), dpb, dxb, spans(d0b));
    INFO(cell_name << (bidirectional ? " bidirectional" : "") << ", sequence " << b << " of length " << Tb);
    CHECK(relative(rows(y, Y, Tb), yb) < 1e-5);
    for (int64_t t = Tb; t < T; ++t)  // padding outputs zero
      for (int64_t j = 0; j < Y; ++j) CHECK(y[static_cast<size_t>((t * B + b) * Y + j)] == 0.0f);
    CHECK(relative(rows(dx, X, Tb), dxb) < 1e-5);
    for (size_t k = 0; k < S; ++k) {
      CHECK(relative(state_rows(hT[k], k), hTb[k]) < 1e-5);
      CHECK(relative(state_rows(d0[k], k), d0b[k]) < 1e-5);
    }
    for (size_t i = 0; i < params.size(); ++i) dparams_sum[i] += dpb[i];
  }
  INFO(cell_name << (bidirectional ? " bidirectional" : "") << ": parameter gradients of the batch vs their sum alone");
  CHECK(relative(dparams, dparams_sum) < 1e-5);
}

}  // namespace

TEST_CASE("differential: a batch of different lengths equals each sequence alone") {
  for (const char* cell : {"lstm", "gru", "rnn"})
    for (bool bidirectional : {false, true}) check_alone(cell, bidirectional);
}
