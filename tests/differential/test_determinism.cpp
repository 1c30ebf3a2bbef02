// Determinism (test plan N7, issue 4): a compiled network gives bitwise the same outputs, final
// states and gradients (parameters, inputs, initial states) on every call and for any number of
// threads. The work split across threads must never change the order in which a sum is taken: the
// GEMMs split by columns, row sums and weight gradients are reduced in a fixed order.
//
// Every configuration runs at 1, 2 and 3 threads (3 does not divide the batch or the widths, so
// every split has a ragged part), twice on one network (the second call must not depend on what the
// first left in the workspace) and once on a freshly compiled one. The output buffers of the second
// call start as NaN, so an element that a call fails to write shows up. Small shapes leave vector
// tails; B = 32, H = 256 takes the register-blocked GEMM paths (the input and recurrent products
// in the loop, weight gradients after it), and B = 24 the forward's input products hoisted over all
// T*B rows (the forward is hoisted below 32 rows per step).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"

using namespace cellforge;

namespace {

// Every buffer of one forward and backward call.
struct Run {
  std::vector<float> y, dparams, dx;
  std::vector<std::vector<float>> final_states, d_initial;
};

// Random parameters, inputs, initial states and seeds for a network; the same for every thread count.
struct Inputs {
  std::vector<float> params, x, dy;
  std::vector<std::vector<float>> initial, d_final;
  Inputs(const CompiledNetwork& net, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    params.assign(static_cast<size_t>(net.parameter_floats()), 0.0f);
    for (const ParameterInfo& p : net.parameters()) {
      const float scale = 1.0f / std::sqrt(static_cast<float>(p.cols ? p.cols : 1));
      for (int64_t i = 0; i < p.size(); ++i) params[static_cast<size_t>(p.offset + i)] = scale * uniform(rng);
    }
    const auto& s = net.sizes();
    x.resize(static_cast<size_t>(s.unroll * s.batch * net.input_width()));
    dy.resize(static_cast<size_t>(s.unroll * s.batch * net.output_width()));
    for (float& v : x) v = uniform(rng);
    for (float& v : dy) v = uniform(rng);
    for (size_t k = 0; k < net.state_names().size(); ++k) {
      initial.emplace_back(static_cast<size_t>(net.state_floats(k)));
      d_final.emplace_back(static_cast<size_t>(net.state_floats(k)));
      for (float& v : initial.back()) v = 0.5f * uniform(rng);
      for (float& v : d_final.back()) v = uniform(rng);
    }
  }
};

Run run(CompiledNetwork& net, const Inputs& in, float fill, const CallOptions& call) {
  Run r;
  r.y.assign(in.dy.size(), fill);
  r.dparams.assign(in.params.size(), fill);
  r.dx.assign(in.x.size(), fill);
  std::vector<std::span<const float>> initial, d_final;
  std::vector<std::span<float>> final_spans, d_initial_spans;
  for (size_t k = 0; k < in.initial.size(); ++k) {
    r.final_states.emplace_back(in.initial[k].size(), fill);
    r.d_initial.emplace_back(in.initial[k].size(), fill);
  }
  for (size_t k = 0; k < in.initial.size(); ++k) {
    initial.push_back(in.initial[k]);
    d_final.push_back(in.d_final[k]);
    final_spans.push_back(r.final_states[k]);
    d_initial_spans.push_back(r.d_initial[k]);
  }
  net.forward(in.params, in.x, initial, r.y, final_spans, call);
  net.backward(in.params, in.x, in.dy, d_final, r.dparams, r.dx, d_initial_spans);
  return r;
}

// The first element whose bits differ, or "" if none; NaN in either is a difference.
std::string first_difference(const std::string& name, const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return name + ": sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t ba, bb;
    std::memcpy(&ba, &a[i], 4);
    std::memcpy(&bb, &b[i], 4);
    if (ba != bb || std::isnan(a[i]))
      return name + "[" + std::to_string(i) + "]: " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
  }
  return "";
}

std::string first_difference(const CompiledNetwork& net, const Run& a, const Run& b) {
  std::string d = first_difference("y", a.y, b.y);
  if (d.empty()) d = first_difference("dx", a.dx, b.dx);
  for (size_t k = 0; d.empty() && k < a.final_states.size(); ++k) {
    d = first_difference("final " + net.state_names()[k], a.final_states[k], b.final_states[k]);
    if (d.empty()) d = first_difference("d initial " + net.state_names()[k], a.d_initial[k], b.d_initial[k]);
  }
  for (const ParameterInfo& p : net.parameters()) {
    if (!d.empty()) break;
    auto part = [&](const Run& r) {
      return std::vector<float>(r.dparams.begin() + p.offset, r.dparams.begin() + p.offset + p.size());
    };
    d = first_difference("d " + p.name + " (layer " + std::to_string(p.layer) + (p.direction ? " backward" : "") + ")",
                         part(a), part(b));
  }
  return d;
}

void check_deterministic(const std::string& what, const ir::NetworkSpec& spec, uint64_t seed, const CallOptions& call = {}) {
  NetworkOptions options;
  options.threads = 1;
  CompiledNetwork reference_net = CompiledNetwork::compile(spec, options);
  const Inputs in(reference_net, seed);
  const Run reference = run(reference_net, in, 0.0f, call);
  for (int threads : {1, 2, 3}) {
    options.threads = threads;
    CompiledNetwork net = CompiledNetwork::compile(spec, options);
    REQUIRE(net.threads() == threads);
    for (int repeat = 0; repeat < 2; ++repeat) {
      const Run r = run(net, in, repeat == 0 ? 0.0f : NAN, call);
      INFO(what << ", " << threads << " threads, call " << repeat + 1 << " against 1 thread, call 1");
      CHECK(first_difference(net, r, reference) == "");
    }
  }
  // The network that made the reference, called again after other networks ran.
  INFO(what << ", 1 thread, the first network called again");
  CHECK(first_difference(reference_net, run(reference_net, in, NAN, call), reference) == "");
}

ir::NetworkSpec stack(const char* cell, int64_t X, int64_t H, int64_t B, int64_t T, int64_t L, bool bidirectional) {
  ir::NetworkSpec spec;
  spec.sizes.input = X;
  spec.sizes.hidden = H;
  spec.sizes.batch = B;
  spec.sizes.unroll = T;
  spec.sizes.layers = L;
  for (int64_t l = 0; l < L; ++l) spec.layers.push_back({zoo::find(cell).build(), bidirectional});
  return spec;
}

// check_deterministic on a stack of one zoo cell, described by its sizes.
void check_stack(const char* cell, int64_t X, int64_t H, int64_t B, int64_t T, int64_t L, bool bidirectional,
                 uint64_t seed) {
  const std::string what = std::string(bidirectional ? "bidirectional " : "") + cell + " X=" + std::to_string(X) +
                           " H=" + std::to_string(H) + " B=" + std::to_string(B) + " T=" + std::to_string(T) +
                           " L=" + std::to_string(L);
  check_deterministic(what, stack(cell, X, H, B, T, L, bidirectional), seed);
}

}  // namespace

TEST_CASE("determinism: small shapes with vector tails, bitwise for 1, 2 and 3 threads and repeated calls") {
  check_stack("lstm", 5, 13, 3, 7, 2, false, 1);
  check_stack("gru", 5, 13, 3, 7, 2, false, 2);
  check_stack("rnn", 7, 9, 5, 4, 1, false, 3);
  check_stack("lstm", 5, 13, 3, 6, 2, true, 4);
}

TEST_CASE("determinism: GEMM shapes (B=32, H=256), bitwise for 1, 2 and 3 threads and repeated calls") {
  check_stack("lstm", 256, 256, 32, 6, 1, false, 5);
  check_stack("lstm", 256, 256, 24, 6, 1, false, 8);
  check_stack("gru", 256, 256, 32, 6, 1, false, 6);
  check_stack("lstm", 128, 256, 32, 5, 2, true, 7);
}

TEST_CASE("determinism: time loops without barriers (products split by rows), bitwise for 1, 2 and 3 threads") {
  // Weights in half of L2 and a tile of rows per thread: every thread runs the loop on its own
  // rows; 50 rows split 24 + 26 and 16 + 16 + 18, every row still computed by the same kernel.
  check_stack("lstm", 128, 128, 50, 6, 2, false, 9);
  check_stack("layernorm_lstm", 64, 64, 21, 5, 1, false, 10);
  check_stack("gru", 96, 96, 40, 4, 2, true, 11);
}

TEST_CASE("determinism: matrix-vector steps walking their weights both ways, bitwise for 1, 2 and 3 threads") {
  // B < 8 rows and more than 512 KiB of packed weights per thread (one thread: 1 MiB for the
  // LSTM, 768 KiB for the GRU): the loop products read their panels in chunks, ascending on even
  // steps and descending on odd ones; two and three threads read their shares in one call.
  check_stack("lstm", 256, 256, 1, 5, 1, false, 12);
  check_stack("gru", 256, 256, 3, 4, 2, false, 13);
}

TEST_CASE("determinism: steps split by features (few rows), bitwise for 1, 2 and 3 threads") {
  // Fewer than 8 rows and hidden sizes that are multiples of the 32-column panels: threads take
  // features in blocks of 64 in every loop, and the columns of those features in every block of
  // H columns of the products. H = 96 gives 64 + 32 on two threads and 64 + 32 + nothing on three;
  // H = 192 on three threads 64 each. The peephole LSTM sums its weight gradients over the rows
  // by features too; the GRU copies a concatenation by features. (The LSTM and GRU at H = 256
  // above, with 1 and 3 rows, are split so too.)
  check_stack("rnn", 64, 96, 2, 5, 2, false, 14);
  check_stack("peephole_lstm", 64, 128, 1, 5, 1, false, 15);
  check_stack("lstm", 64, 192, 5, 4, 2, true, 16);
  check_stack("gru", 96, 96, 3, 4, 1, true, 17);
}

TEST_CASE("determinism: variable lengths and dropout, bitwise for 1, 2 and 3 threads") {
  // The dropout masks are drawn from the call's seed element by element, whatever the split.
  ir::NetworkSpec spec = stack("gru", 64, 96, 32, 5, 3, true);
  spec.dropout = 0.25;
  spec.variable_lengths = true;
  std::vector<int64_t> lengths;
  for (int64_t r = 0; r < spec.sizes.batch; ++r) lengths.push_back(1 + r % spec.sizes.unroll);
  CallOptions call;
  call.dropout_seed = 42;
  call.lengths = lengths;
  check_deterministic("bidirectional gru X=64 H=96 B=32 T=5 L=3, variable lengths, dropout 0.25", spec, 8, call);
  // The same at 3 rows, where the steps are split by features.
  ir::NetworkSpec few_rows = stack("lstm", 64, 128, 3, 5, 2, false);
  few_rows.dropout = 0.25;
  few_rows.variable_lengths = true;
  const std::vector<int64_t> few_lengths = {5, 2, 4};
  call.lengths = few_lengths;
  check_deterministic("lstm X=64 H=128 B=3 T=5 L=2, variable lengths, dropout 0.25", few_rows, 18, call);
}

TEST_CASE("determinism: zoneout, bitwise for 1, 2 and 3 threads") {
  // The zoneout masks are drawn from the call's seed element by element, whatever the split.
  ir::NetworkSpec spec = stack("lstm", 64, 128, 32, 5, 2, true);
  spec.zoneout = {{"c", 0.5}, {"h", 0.05}};
  spec.dropout = 0.25;
  CallOptions call;
  call.dropout_seed = 43;
  check_deterministic("bidirectional lstm X=64 H=128 B=32 T=5 L=2, zoneout c 0.5 h 0.05, dropout 0.25", spec, 19, call);
  ir::NetworkSpec few_rows = stack("gru", 64, 128, 3, 5, 1, false);
  few_rows.zoneout = {{"h", 0.3}};
  check_deterministic("gru X=64 H=128 B=3 T=5, zoneout h 0.3", few_rows, 20, call);
}
