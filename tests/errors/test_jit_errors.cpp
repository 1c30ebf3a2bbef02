// Bad input to a compiled network: every buffer's size and alignment, the sizes of the network,
// and non-finite values in strict mode, each rejected with a UserError whose text names the thing,
// the expected and the actual value.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "codegen/ir/error.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "runtime/zoo/zoo.hpp"
#include "errors/call_buffers.hpp"

using namespace cellforge;

namespace {

ir::NetworkSizes small_sizes() {
  ir::NetworkSizes s;
  s.input = 3;
  s.hidden = 4;
  s.batch = 2;
  s.unroll = 5;
  s.layers = 2;
  return s;
}

using Buffers = testing::CallBuffers;

NetworkOptions one_thread(bool strict = false) {
  NetworkOptions o;
  o.threads = 1;
  o.strict = strict;
  return o;
}

}  // namespace

TEST_CASE("errors: compiling a network with zero sizes names the size and the fix", "[errors]") {
  const ir::Graph lstm = zoo::find("lstm").build();
  auto with = [](auto change) {
    ir::NetworkSizes s = small_sizes();
    change(s);
    return s;
  };
  CHECK_THROWS_WITH(CompiledNetwork::compile(lstm, with([](auto& s) { s.unroll = 0; }), one_thread()),
                    "unroll length must be >= 1, got 0; run at least one step");
  CHECK_THROWS_WITH(CompiledNetwork::compile(lstm, with([](auto& s) { s.hidden = 0; }), one_thread()),
                    "hidden size must be >= 1, got 0; pass the number of hidden units H");
  CHECK_THROWS_WITH(CompiledNetwork::compile(lstm, with([](auto& s) { s.batch = 0; }), one_thread()),
                    "batch size must be >= 1, got 0; run at least one sequence");
  CHECK_THROWS_WITH(CompiledNetwork::compile(lstm, with([](auto& s) { s.input = -3; }), one_thread()),
                    "input size must be >= 1, got -3; pass the number of features of x_t");
  CHECK_THROWS_WITH(CompiledNetwork::compile(lstm, with([](auto& s) { s.layers = 0; }), one_thread()),
                    "number of layers must be >= 1, got 0; stack at least one cell");
}

TEST_CASE("errors: buffers of the wrong size are named with the expected and actual size", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), small_sizes(), one_thread());
  Buffers b(net);
  const size_t x_floats = b.x.size();
  std::vector<float> short_x(x_floats - 1, 0.0f);
  CHECK_THROWS_WITH(net.forward(b.params, short_x, b.in(b.states), b.y, b.out(b.finals)),
                    "x has " + std::to_string(x_floats - 1) + " floats; expected " + std::to_string(x_floats) +
                        " = [T=5][B=2][X=3]");
  std::vector<float> long_params(b.params.size() + 7, 0.0f);
  CHECK_THROWS_WITH(net.forward(long_params, b.x, b.in(b.states), b.y, b.out(b.finals)),
                    Catch::Contains("params has " + std::to_string(b.params.size() + 7) + " floats; expected " +
                                    std::to_string(b.params.size())));
  std::vector<float> short_y(b.y.size() / 2, 0.0f);
  CHECK_THROWS_WITH(net.forward(b.params, b.x, b.in(b.states), short_y, b.out(b.finals)), Catch::Contains("y has"));
  // One state buffer too few, and one of the wrong size.
  std::vector<std::span<const float>> one_state = {b.states[0]};
  CHECK_THROWS_WITH(net.forward(b.params, b.x, one_state, b.y, b.out(b.finals)),
                    "initial_states: got 1 buffers; the network's cells have 2 states (h, c)");
  std::vector<float> small_c(b.states[1].size() - 1, 0.0f);
  std::vector<std::span<const float>> bad_c = {b.states[0], small_c};
  CHECK_THROWS_WITH(net.forward(b.params, b.x, bad_c, b.y, b.out(b.finals)),
                    Catch::Contains("initial state 'c' has " + std::to_string(small_c.size()) + " floats; expected " +
                                    std::to_string(b.states[1].size())));
  // Backward checks its own buffers too.
  net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals));
  std::vector<float> short_dx(b.dx.size() - 2, 0.0f);
  CHECK_THROWS_WITH(net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, short_dx, b.out(b.d_initials)),
                    Catch::Contains("dx has " + std::to_string(short_dx.size()) + " floats; expected " +
                                    std::to_string(b.dx.size())));
}

TEST_CASE("errors: misaligned buffers are refused", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("rnn").build(), small_sizes(), one_thread());
  Buffers b(net);
  std::vector<char> raw((b.x.size() + 1) * sizeof(float));
  std::span<const float> misaligned(reinterpret_cast<const float*>(raw.data() + 1), b.x.size());
  CHECK_THROWS_WITH(net.forward(b.params, misaligned, b.in(b.states), b.y, b.out(b.finals)),
                    Catch::StartsWith("x is not aligned to 4 bytes"));
}

TEST_CASE("errors: backward before any forward is refused", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("gru").build(), small_sizes(), one_thread());
  Buffers b(net);
  CHECK_THROWS_WITH(net.backward(b.params, b.x, b.dy, b.in(b.d_finals), b.dparams, b.dx, b.out(b.d_initials)),
                    "backward() needs a forward() of the same parameters and inputs first");
}

TEST_CASE("errors: strict mode reports the first non-finite input by position", "[errors]") {
  CompiledNetwork net = CompiledNetwork::compile(zoo::find("lstm").build(), small_sizes(), one_thread(true));
  Buffers b(net);
  // x is [T=5][B=2][X=3]: element (step 3, row 1, feature 2).
  b.x[static_cast<size_t>(3 * 2 * 3 + 1 * 3 + 2)] = NAN;
  CHECK_THROWS_WITH(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals)),
                    "non-finite value (NaN) in x at step 3, batch row 1, feature 2");
  b.x[static_cast<size_t>(3 * 2 * 3 + 1 * 3 + 2)] = 0.5f;
  b.states[1][5] = INFINITY;  // state c is [L=2][B=2][H=4]: layer 0, row 1, feature 1
  CHECK_THROWS_WITH(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals)),
                    "non-finite value (Inf) in initial state 'c' at layer 0, batch row 1, feature 1");
  b.states[1][5] = 0;
  b.params[3] = NAN;
  CHECK_THROWS_WITH(net.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals)),
                    Catch::StartsWith("non-finite value in parameter 'W_ih' of layer 0 at element 3"));
  // Without strict mode the same input runs (and propagates NaN).
  CompiledNetwork lax = CompiledNetwork::compile(zoo::find("lstm").build(), small_sizes(), one_thread(false));
  CHECK_NOTHROW(lax.forward(b.params, b.x, b.in(b.states), b.y, b.out(b.finals)));
  CHECK(std::isnan(b.y[0]));
}
