// Lesson 00: a recurrent cell in cellforge's DSL, from equations to machine code.
//
// The part between README-BEGIN and README-END is the first code block of README.md (a test keeps
// them equal). It writes the vanilla RNN of the classic "hello" example,
//
//     h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)
//
// as C++ that reads like the equation, turns it into a step graph, shows the graph and its
// derivative, and compiles a whole network of it — forward and backpropagation through time —
// into code for this CPU.
#include <cstdio>
#include <vector>

// README-BEGIN
#include "codegen/autodiff/differentiate.hpp"
#include "codegen/ir/text.hpp"
#include "codegen/jit/compiled_network.hpp"
#include "dsl/dsl.hpp"

using namespace cellforge;
using namespace cellforge::dsl;

int main() {
  // The cell: one input x, one state h, three parameters, shapes in symbolic sizes X and H.
  auto x = input("x"_s, X);
  auto h = state("h"_s, H);
  auto W_xh = param("W_xh"_s, H, X);
  auto W_hh = param("W_hh"_s, H, H);
  auto b = param("b"_s, H);
  auto h_next = named("h_next"_s, tanh(W_hh * h + W_xh * x + b));
  ir::Graph rnn = reify(cell("rnn"_s, next(h, h_next), output(h_next)));

  std::puts(ir::print(rnn).c_str());                           // the step graph
  std::puts(ir::print(autodiff::differentiate(rnn)).c_str());  // and its derivative

  // A network of 2 stacked layers over 5 steps for 3 sequences, compiled with its BPTT.
  CompiledNetwork net = CompiledNetwork::compile(rnn, {.input = 4, .hidden = 8, .batch = 3, .unroll = 5, .layers = 2});
  std::vector<float> params(net.parameter_floats(), 0.1f), x_seq(5 * 3 * 4, 1.0f), y(5 * 3 * 8);
  std::vector<float> h0(net.state_floats(0), 0.0f), hT(h0.size());
  net.forward(params, x_seq, {h0}, y, {hT});
  std::printf("y at the last step, first sequence: %f ...\n", y[4 * 3 * 8]);
}
// README-END
