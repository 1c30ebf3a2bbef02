// Long unrolls (test plan N4, issue 8): an LSTM and a tanh RNN unrolled for T = 10,000 steps run
// forward and BPTT through the JIT without overflow or NaN: every output, final state and gradient
// is finite, tanh-bounded states stay in [-1, 1], and the float32 results agree with the double
// reference interpreter over the whole unroll. The compiled code does not grow with T: the time
// loop is a loop, so the LLVM IR and the object file for T = 10,000 are the size of those for
// T = 10 (the trip count and the offsets it scales are constants; only their digits differ).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>
#include <span>
#include <vector>

#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "support/jit_harness.hpp"

using namespace cellforge;

namespace {

ir::NetworkSizes long_sizes(int64_t T) {
  ir::NetworkSizes s;
  s.input = 16;
  s.hidden = 32;
  s.batch = 4;
  s.unroll = T;
  s.layers = 1;
  return s;
}

// How many elements are not finite, and the largest magnitude of the rest.
struct Scan {
  size_t nonfinite = 0;
  double largest = 0;
  void add(std::span<const float> v) {
    for (float f : v) {
      if (!std::isfinite(f)) ++nonfinite;
      else largest = std::max(largest, static_cast<double>(std::fabs(f)));
    }
  }
};

void check_long_unroll(const char* name) {
  const int64_t T = 10'000;
  const ir::Graph cell = zoo::find(name).build();
  NetworkOptions options;
  options.threads = 2;
  CompiledNetwork net = CompiledNetwork::compile(cell, long_sizes(T), options);
  std::mt19937_64 rng(10'000);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  // PyTorch's initialization, uniform(-1/sqrt(H), 1/sqrt(H)): a contractive cell.
  std::vector<float> params(static_cast<size_t>(net.parameter_floats()));
  for (float& p : params) p = uniform(rng) / std::sqrt(32.0f);
  const auto& s = net.sizes();
  std::vector<float> x(static_cast<size_t>(T * s.batch * net.input_width())), dy(static_cast<size_t>(T * s.batch * net.output_width()));
  for (float& v : x) v = uniform(rng);
  for (float& v : dy) v = uniform(rng);
  std::vector<float> y(dy.size(), NAN), dparams(params.size(), NAN), dx(x.size(), NAN);
  std::vector<std::vector<float>> initial, finals, d_final, d_initial;
  for (size_t k = 0; k < net.state_names().size(); ++k) {
    const size_t n = static_cast<size_t>(net.state_floats(k));
    initial.emplace_back(n);
    for (float& v : initial.back()) v = 0.5f * uniform(rng);
    finals.emplace_back(n, NAN);
    d_final.emplace_back(n);
    for (float& v : d_final.back()) v = uniform(rng);
    d_initial.emplace_back(n, NAN);
  }
  net.forward(params, x, {initial.begin(), initial.end()}, y, {finals.begin(), finals.end()});
  net.backward(params, x, dy, {d_final.begin(), d_final.end()}, dparams, dx, {d_initial.begin(), d_initial.end()});

  Scan outputs, states, gradients;
  outputs.add(y);
  for (const auto& f : finals) states.add(f);
  gradients.add(dparams);
  gradients.add(dx);
  for (const auto& d : d_initial) gradients.add(d);
  INFO(name << " T=10000: largest |y| " << outputs.largest << ", |final state| " << states.largest << ", |gradient| "
            << gradients.largest);
  CHECK(outputs.nonfinite == 0);
  CHECK(states.nonfinite == 0);
  CHECK(gradients.nonfinite == 0);
  CHECK(outputs.largest <= 1.0);  // y = h: tanh(...) for the RNN, o * tanh(c) for the LSTM
  // Gradients of a contractive cell stay bounded: dy is at most 1 per element and an
  // old step's influence decays, so each sum over 10,000 steps stays far below float's range.
  CHECK(gradients.largest < 1e5);
}

// The size of the LLVM IR and of the object file for an unroll length.
struct CodeSize {
  size_t ir_chars;
  size_t object_bytes;
};
CodeSize code_size(const ir::Graph& cell, int64_t T) {
  NetworkOptions options;
  options.threads = 1;
  options.use_disk_cache = false;
  CodeSize size;
  size.ir_chars = emit_network(cell, long_sizes(T), jit::Stage::ir, options).size();
  size.object_bytes = CompiledNetwork::compile(cell, long_sizes(T), options).compile_stats().object_bytes;
  return size;
}

}  // namespace

TEST_CASE("long unroll: an LSTM over 10,000 steps, forward and BPTT, stays finite") { check_long_unroll("lstm"); }

TEST_CASE("long unroll: a tanh RNN over 10,000 steps, forward and BPTT, stays finite") { check_long_unroll("rnn"); }

TEST_CASE("long unroll: the JIT agrees with the double reference over 10,000 steps") {
  for (const char* name : {"lstm", "rnn"}) {
    ir::NetworkSizes sizes = long_sizes(10'000);
    sizes.batch = 2;
    sizes.hidden = 9;  // a vector tail
    testing::HarnessOptions options;
    options.seed = 10'001;
    options.threads = 2;
    testing::Comparison c = testing::compare_with_reference(zoo::find(name).build(), sizes, options);
    INFO(name << " T=10000 B=2 H=9: worst " << c.worst.relative << " in " << c.worst.where);
    CHECK_FALSE(c.worst.nonfinite_mismatch);
    CHECK(c.worst.relative < 1e-4);
  }
}

TEST_CASE("long unroll: the compiled code does not grow with the unroll length") {
  for (const char* name : {"lstm", "rnn"}) {
    const ir::Graph cell = zoo::find(name).build();
    const CodeSize short_code = code_size(cell, 10), long_code = code_size(cell, 10'000);
    INFO(name << ": T=10 gives " << short_code.ir_chars << " chars of IR and " << short_code.object_bytes
              << " bytes of object; T=10000 gives " << long_code.ir_chars << " and " << long_code.object_bytes);
    // Only constants change: the trip count and the offsets it scales have more digits (IR about
    // +0.4%), and the optimizer unrolls a short loop differently (object about +-4%). Code that
    // grew with T would be ~1000 times larger.
    CHECK(static_cast<double>(long_code.ir_chars) <= 1.02 * static_cast<double>(short_code.ir_chars));
    CHECK(static_cast<double>(long_code.object_bytes) <= 1.10 * static_cast<double>(short_code.object_bytes));
  }
}
